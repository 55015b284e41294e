// Type declarations for www/sightline.js: the elements, SightlineSource and SightlineClient.
// The specifications and results (QuerySpec, CompareSpec, EventsSpec, QueryResult,
// Comparison, EventsResult, the operator unions) are generated from the engine's Rust
// types into ./engine/spec.d.ts by the build; they are re-exported here.

import type {
  CompareSpec,
  Comparison,
  EngineError,
  ErrorKind,
  EventsResult,
  EventsSpec,
  Filter,
  HeatmapScale,
  HeatmapSpec,
  QueryResult,
  QuerySpec,
} from './engine/spec.js';
export * from './engine/spec.js';

/** How a column is analysed. */
export type ColumnRole = 'time' | 'number' | 'string' | 'bool' | 'other';

/** One column of the loaded data, as `Dataset.schema()` describes it. */
export interface FieldInfo {
  name: string;
  /** Arrow type as written in the stream, e.g. `Float64`, `Dictionary(Int8, Utf8)`. */
  type: string;
  role: ColumnRole;
  /** Time columns: the unit of the raw values. */
  unit?: string;
  /** Why the column is kept out of analysis. */
  note?: string;
  nulls: number;
  /** String columns: the number of distinct values. */
  distinct?: number;
}

/** Colours and sizes of a rendering; sizes in CSS pixels, colours `#rrggbb`. */
export interface RenderOptions {
  width?: number;
  height?: number;
  dpr?: number;
  background?: string;
  foreground?: string;
  /** Colour stops from fewest to most events. */
  palette?: string[];
  tz_offset_minutes?: number;
  /** IANA zone of the axis labels (right across daylight-saving changes); overrides tz_offset_minutes. */
  time_zone?: string;
  /** Unit suffix of values (`ms` formats as ms/s); default: guessed from the column name. */
  unit?: string;
}

/** A heatmap without its counts. */
export interface HeatmapHeader {
  column: string;
  /** Time bucket edges, unix seconds; `time_buckets + 1` of them. */
  time_edges: number[];
  /** Value bucket edges; `value_buckets + 1` of them. */
  value_edges: number[];
  scale: HeatmapScale;
  max_count: number;
  total: number;
  nulls: number;
}

/** A text label to draw over the bitmap (CSS pixels). */
export interface Label {
  text: string;
  x: number;
  y: number;
  align: CanvasTextAlign;
  baseline: CanvasTextBaseline;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface RenderResult {
  /** Bitmap size in device pixels. */
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  labels: Label[];
  /** The plot area (cells) in CSS pixels. */
  plot: Rect;
  heatmap: HeatmapHeader;
  /** Rows in the dataset when it was drawn. */
  rowCount: number;
  /** Milliseconds spent in the worker. */
  ms: number;
  /** With `{ counts: true }`: `counts[t * value_buckets + v]`. */
  counts?: Uint32Array;
  /** With `{ counts: true }`: per time bucket, events whose value is <= 0 (log scale). */
  low?: Uint32Array;
}

export interface PushResult {
  /** Rows completed by this push. */
  rows: number;
  /** Record batches completed by this push. */
  batches: number;
  /** Rows in the dataset. */
  rowCount: number;
  bytesConsumed: number;
}

export interface DatasetStats {
  rowCount: number;
  bytesConsumed: number;
  memoryBytes: number;
}

/** A line chart for `renderLines`: buckets of `granularity` seconds from `start_time`. */
export interface LineChart {
  start_time: number;
  end_time: number;
  granularity: number;
  series: Array<{ name: string; values: Array<number | null> }>;
  unit?: string;
}

/** An error the server gave (`RemoteDataset`): the engine's message and what it names. */
export class RemoteError extends Error {
  readonly status: number;
  /** The engine's error kind, when the engine refused the spec. */
  readonly kind?: ErrorKind;
  readonly column?: string;
  readonly operator?: string;
  readonly offset?: number;
  readonly parameter?: string;
}

/**
 * `query` and `compare` run by the server (`POST /api/query`, `/api/compare`) over one of
 * its sources, resolving what `Dataset.query` / `Dataset.compare` return for the same
 * spec over the same rows. Rejects with a `RemoteError`. Works without a DOM.
 */
export class RemoteDataset {
  /** `source`: the server's source name (its default when omitted). */
  constructor(source?: string, options?: { baseUrl?: string; fetchInit?: RequestInit });
  readonly source: string | undefined;
  query(spec: QuerySpec): Promise<QueryResult>;
  compare(spec: CompareSpec): Promise<Comparison>;
}

/** A promise wrapper over one engine worker, which holds one dataset. */
export class SightlineClient {
  /**
   * Where the engine worker's script is served when it is not beside the module (after
   * Rollup or esbuild, which leave it behind, if you copy the package's `www/` and `pkg/`):
   * used by every client created after. Unset, and the script missing, the engine runs in
   * the page from an inlined copy of the wasm.
   */
  static workerUrl: string | URL | null;
  constructor(options?: { workerUrl?: string | URL });
  /** Where the engine runs: in its `worker`, in the `page` (the worker script could not be loaded), or still `starting`. */
  readonly host: 'worker' | 'page' | 'starting';
  /**
   * Sends a raw request; rejects with the engine's message. Requests with the same
   * `channel` supersede each other: one still queued when a newer one arrives rejects
   * with an `AbortError`.
   */
  request(type: string, args?: Record<string, unknown>, transfer?: Transferable[], channel?: string): Promise<unknown>;
  /** Replaces the dataset with an empty one. */
  reset(options?: { budgetBytes?: number }): Promise<{ rows: number }>;
  /**
   * Feeds the next bytes of an Arrow IPC stream (cut anywhere). Copies the bytes unless
   * `transfer` is set and the view covers its whole buffer, which is then detached.
   */
  push(chunk: Uint8Array | ArrayBuffer, options?: { transfer?: boolean }): Promise<PushResult>;
  /** Ends the stream; rejects if it stopped inside a message or failed earlier. */
  finish(): Promise<{ rowCount: number; bytesConsumed: number }>;
  /** Drops a partial or failed stream; the rows loaded stay. */
  resetStream(): Promise<{ rowCount: number }>;
  schema(): Promise<FieldInfo[]>;
  stats(): Promise<DatasetStats>;
  render(spec: HeatmapSpec, options?: RenderOptions, extra?: { counts?: boolean; channel?: string }): Promise<RenderResult>;
  /** Runs a query with a HEATMAP calculation and draws its heatmap (filters apply). */
  renderQuery(spec: QuerySpec, options?: RenderOptions, extra?: { channel?: string }): Promise<RenderResult & { matched: number }>;
  /** Draws a line chart. */
  renderLines(chart: LineChart, options?: RenderOptions & { lines?: string[]; grid?: string }, extra?: { channel?: string }): Promise<Omit<RenderResult, 'heatmap'>>;
  /** Runs a query in Honeycomb's query specification (README.md, "Queries"). */
  query(spec: QuerySpec, extra?: { channel?: string }): Promise<QueryResult>;
  /** What is different about the selected events (README.md, "Comparisons"). */
  compare(spec: CompareSpec, extra?: { channel?: string }): Promise<Comparison>;
  /** Raw events, newest first (README.md, "Events"). */
  events(spec: EventsSpec, extra?: { channel?: string }): Promise<EventsResult>;
  /** Stops the worker; pending requests reject. */
  terminate(): void;
}

export type SightlineState = 'idle' | 'loading' | 'ready' | 'error';

/** What `load` and `append` take: a URL (fetched streaming), bytes, a Blob, a Response, or an apache-arrow Table. */
export type SightlineInput = string | URL | Uint8Array | ArrayBuffer | Blob | Response | { batches: unknown[]; schema: { fields: unknown[] } };

/** The context every element of a source applies: filters and time range (query-spec fields). */
export interface SightlineContext {
  filters: Filter[];
  filter_combination?: 'AND' | 'OR';
  start_time?: number;
  end_time?: number;
  time_range?: number;
}

/** A brushed region: a time range, and a value range of `column` when given. */
export interface SightlineSelection {
  start_time: number;
  end_time: number;
  column?: string;
  /** Inclusive lower bound of `column`. */
  min?: number;
  /** Exclusive upper bound of `column`. */
  max?: number;
  filters?: Filter[];
}

/**
 * One dataset in one worker, loaded from Arrow IPC streams, plus the context and
 * selection its elements share. Events (not bubbling): `progress`, `data`, `ready`,
 * `error`, `state`, `context`, `select`, `computed` (detail: {@link SightlineComputed}).
 */
/** Where a source's answers are computed: `auto` chooses by the event count. */
export type SightlineMode = 'auto' | 'local' | 'remote';

/** A source working on the server: its engine and how many events it has. */
export interface SightlineRemote {
  baseUrl: string;
  source?: string;
  /** `ClickHouse` or `server` (the server's own engine). */
  engine: string;
  rows: number;
}

/** Where an answer was computed: `browser` (this tab), `ClickHouse` or `server`; over how
 * many events; in how many milliseconds as seen from the page. */
export interface SightlineComputed {
  where: 'browser' | 'ClickHouse' | 'server';
  rows: number;
  ms: number;
}

export class SightlineSource extends EventTarget {
  constructor(options?: { workerUrl?: string | URL; budgetBytes?: number; tableToIPC?: (table: unknown, type: 'stream') => Uint8Array; fetchInit?: RequestInit });
  /** Options of every fetch of a URL (headers, credentials); the signal is the source's. */
  fetchInit: RequestInit | undefined;
  readonly client: SightlineClient;
  /** Whether its worker is running. */
  readonly running: boolean;
  state: SightlineState;
  rows: number;
  bytes: number;
  totalBytes?: number;
  totalRows?: number;
  loadMs: number;
  error: string | null;
  /** Increments whenever rows are added or replaced. */
  version: number;
  context: SightlineContext;
  selection: SightlineSelection | null;
  /** Set when queries run on the server (`open` chose remote). */
  remote: SightlineRemote | null;
  /** Where the last answer was computed. */
  computed: SightlineComputed | null;
  /**
   * The trace endpoint its server announced (`X-Sightline-Trace`), absolute, with `{id}`
   * where a trace id goes; null when the server names none.
   */
  traceUrl: string | null;
  /**
   * Opens a `src` URL where its data lives: `local` loads the events into the page;
   * `remote` sends every query, comparison and events page to the server (a Sightline
   * server's plain `/api/events` URL); `auto` (default) loads them when the server
   * counts at most `localRows` (default 2,000,000), else works remotely.
   */
  open(url: string | URL, options?: { mode?: SightlineMode; localRows?: number }): Promise<{ rows: number; bytes: number; mode: 'local' | 'remote' }>;
  /** Replaces the data. With an apache-arrow Table, pass `{ tableToIPC }` (from apache-arrow). */
  load(input: SightlineInput, options?: { tableToIPC?: (table: unknown, type: 'stream') => Uint8Array }): Promise<{ rows: number; bytes: number }>;
  /** Adds the batches of another stream (tailing new events). */
  append(input: SightlineInput, options?: { tableToIPC?: (table: unknown, type: 'stream') => Uint8Array }): Promise<{ rows: number; bytes: number }>;
  schema(): Promise<FieldInfo[]>;
  setContext(context: Partial<SightlineContext>): void;
  addFilter(filter: Filter): void;
  select(selection: SightlineSelection | null): void;
  /** Ends the worker and drops the data. */
  close(): void;
}

export interface SightlineProgressDetail {
  bytes: number;
  rows: number;
  /** From `Content-Length` (or the size of the bytes given to `load`). */
  totalBytes?: number;
  /** From the `X-Sightline-Rows` response header. */
  totalRows?: number;
}

/** A failed load or drawing: the message, and what an engine error names. */
export interface SightlineErrorDetail extends Partial<Omit<EngineError, 'message'>> {
  message: string;
}

/**
 * What `Dataset`'s methods and `SightlineClient`'s requests reject with: an `Error`
 * whose message is the engine's, carrying the generated `EngineError` fields (`kind`,
 * and the `column`, `operator` or stream byte `offset` it names).
 */
export type SightlineError = Error & Partial<Omit<EngineError, 'message'>>;

export interface SightlineReadyDetail {
  rows: number;
  bytes: number;
  /** Milliseconds from the start of the load to the end of the stream. */
  ms: number;
}

export interface SightlineSelectDetail {
  /** Null when the selection was cleared. */
  selection: SightlineSelection | null;
}

export interface SightlineQueryChangeDetail {
  query: QuerySpec;
  /** Set to null when the customer lens was closed. */
  customer?: string | null;
}

export interface SightlineRowClickDetail {
  /** The event's fields (`kind: 'event'`) or the result row (`kind: 'result'`). */
  row: Record<string, string | number | boolean | null>;
  rowId?: number;
  kind: 'event' | 'result';
}

export interface SightlineBaselineChangeDetail {
  /** Seconds: the same events this much earlier; 0: the rest of the scope. */
  period: number;
}

export interface SightlineRenderDetail {
  /** Events in the drawing. */
  matched: number;
  /** Milliseconds from the request to the drawing, as seen by the page. */
  ms: number;
}

export interface SightlineResultDetail {
  /** A breakdown's query result (without `series`) or a comparison. */
  result: QueryResult | Comparison;
  ms?: number;
}

export interface SightlineFilterDetail {
  /** The filter a click on a compared value adds to the source. */
  filter: Filter;
}

export interface SightlineGroupByDetail {
  column: string;
}

export interface SightlineEventMap extends HTMLElementEventMap {
  'sightline-progress': CustomEvent<SightlineProgressDetail>;
  'sightline-error': CustomEvent<SightlineErrorDetail>;
  'sightline-ready': CustomEvent<SightlineReadyDetail>;
  'sightline-select': CustomEvent<SightlineSelectDetail>;
  'sightline-query-change': CustomEvent<SightlineQueryChangeDetail>;
  'sightline-row-click': CustomEvent<SightlineRowClickDetail>;
  'sightline-baseline-change': CustomEvent<SightlineBaselineChangeDetail>;
  'sightline-render': CustomEvent<SightlineRenderDetail>;
  'sightline-result': CustomEvent<SightlineResultDetail>;
  'sightline-filter': CustomEvent<SightlineFilterDetail>;
  'sightline-group-by': CustomEvent<SightlineGroupByDetail>;
  'sightline-trace-open': CustomEvent<SightlineTraceOpenDetail>;
  'sightline-trace': CustomEvent<SightlineTraceDetail>;
  'sightline-span-click': CustomEvent<SightlineSpanClickDetail>;
  'sightline-board-change': CustomEvent<SightlineBoardChangeDetail>;
  'sightline-save-to-board': CustomEvent<SightlineSaveToBoardDetail>;
}

/** What every element bound to a source has: `src`, `source`, `load`, `appendStream`. */
export class SightlineSourceBound extends HTMLElement {
  /** An Arrow IPC stream URL: the element then owns a private source and worker. */
  src: string;
  /** A shared source (or the `source="id"` attribute naming a `<sightline-source>`). */
  source: SightlineSource | null;
  /** Options of the fetch of `src`, e.g. `{ headers: { Authorization: 'Bearer ...' } }`; set before `src`. */
  fetchInit: RequestInit | undefined;
  readonly state: SightlineState;
  readonly rows: number;
  readonly error: string | null;
  readonly client: SightlineClient;
  load(input: SightlineInput, options?: { tableToIPC?: (table: unknown, type: 'stream') => Uint8Array }): Promise<{ rows: number; bytes: number }>;
  /** Adds another stream's batches (tailing). Not `append`, which stays the DOM's `Element.append`. */
  appendStream(input: SightlineInput, options?: { tableToIPC?: (table: unknown, type: 'stream') => Uint8Array }): Promise<{ rows: number; bytes: number }>;
  schema(): Promise<FieldInfo[]>;
  stats(): Promise<DatasetStats>;

  addEventListener<K extends keyof SightlineEventMap>(
    type: K,
    listener: (this: this, ev: SightlineEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof SightlineEventMap>(
    type: K,
    listener: (this: this, ev: SightlineEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/**
 * `<sightline-heatmap src="/api/demo" column="duration_ms">`: a streaming heatmap of a
 * numeric column over time; drag (or press Enter twice) to select a region.
 *
 * Attributes: `src`, `source`, `column` (default `duration_ms`), `time-buckets` (default:
 * one per round granularity), `value-buckets` (40), `scale` (`log` | `linear`), `unit`,
 * `time-zone` (an IANA name, `utc`, or `local`: the default; an unknown name is local
 * time, said in the status), `filters` (JSON, on top of the source's), `label`, and
 * `state` (set by the element: `loading` | `ready` | `error`).
 *
 * Styling: `--sightline-bg`, `--sightline-fg`, `--sightline-font`, `--sightline-palette`
 * (space-separated colours), `--sightline-height`, `--sightline-accent`,
 * `--sightline-border`, `--sightline-muted`; parts `status`, `progress`, `canvas`,
 * `tooltip`, `selection`.
 */
export class SightlineHeatmap extends SightlineSourceBound {
  static readonly observedAttributes: string[];
  column: string;
  timeBuckets: number;
  valueBuckets: number;
  scale: HeatmapScale;
  filters: Filter[];
  /** The last drawn heatmap's header, or null. */
  readonly heatmap: (HeatmapHeader & { counts: Uint32Array; low: Uint32Array }) | null;
  /** The plot area of the last drawing in CSS pixels relative to the canvas, or null. */
  readonly plot: Rect | null;
  /** Loads and draws; rejects with the load's error or the drawing's (data kept). */
  load(input: SightlineInput, options?: { tableToIPC?: (table: unknown, type: 'stream') => Uint8Array }): Promise<{ rows: number; bytes: number }>;
  /** Re-fetches `src`. */
  reload(): Promise<void>;
  /** Redraws, e.g. after changing the `--sightline-*` custom properties. */
  refresh(): void;
  /** The chart as PNG (bitmap plus labels, at the device pixel ratio). */
  toPNG(): Promise<Blob>;
}

/** `<sightline-source id="prod" src="...">`: an invisible source that parts name with `source="prod"`. */
export class SightlineSourceElement extends HTMLElement {
  src: string;
  readonly source: SightlineSource;
  load(input: SightlineInput): Promise<{ rows: number; bytes: number }>;
  appendStream(input: SightlineInput): Promise<{ rows: number; bytes: number }>;
}

/**
 * `<sightline-breakdown calculations="COUNT, P99(duration_ms)" breakdowns="endpoint">`:
 * a line chart per calculation (the top ten groups) and a sortable results table.
 * Attributes: `calculations`, `breakdowns`, `orders`, `havings`, `limit`, `charts`
 * (`lines` default, `bars`, `number`, `none`), `table="none"`, `time-zone`,
 * `ignore-selection`; parts
 * `charts`, `chart`, `table`, `status`, `export-csv`, `tooltip`.
 */
export class SightlineBreakdown extends SightlineSourceBound {
  /** The query without the source's filters and time range (which are added). */
  query: QuerySpec;
  /** The last result (its `series` are drawn in the worker and left out). */
  readonly result: QueryResult | null;
  toCSV(): string;
  exportCSV(filename?: string): void;
  toPNG(index?: number): Promise<Blob>;
  exportPNG(index?: number, filename?: string): Promise<void>;
}

/**
 * `<sightline-compare>`: what is different about the brushed selection (or `spec`);
 * dimensions ranked with bars for selection and baseline. A click on a value adds it as a
 * filter of the source (unless `no-filter`), firing `sightline-filter`; "Group by" fires
 * `sightline-group-by`. Attributes `top` (values per dimension, default 6),
 * `baseline-period`, `time-zone`; parts `title`, `baseline-select`, `status`, `baseline`
 * (what the baseline is), `empty` (shown when the baseline has no events), `dimensions`,
 * `dimension`, `measures`. Choosing a baseline in the panel fires
 * `sightline-baseline-change`.
 */
export class SightlineCompare extends SightlineSourceBound {
  spec: CompareSpec | null;
  /**
   * Seconds (the `baseline-period` attribute): the baseline is the same events this much
   * earlier (the selection's window shifted back, with its filters and value range); 0,
   * the default: the rest of the scope. Overrides the baseline of `spec`.
   */
  baselinePeriod: number;
  readonly result: Comparison | null;
}

/**
 * `<sightline-events limit="50">`: the raw events behind the source's filters, newest
 * first; click one for every field. Attributes `limit`, `columns`, `filters` (JSON),
 * `time-zone`, `ignore-selection`, `trace-column` (default: `trace_id`,
 * `trace.trace_id`, `TraceId` or `traceId`, whichever the data has) and `trace-target`
 * (the id of a `<sightline-trace>`): each trace id is a button that opens its trace.
 */
export class SightlineEvents extends SightlineSourceBound {
  filters: Filter[];
  readonly result: EventsResult | null;
  /**
   * Fires `sightline-trace-open` (cancelable); unless cancelled, sets `trace-id` on the
   * `<sightline-trace>` that `trace-target` names.
   */
  openTrace(traceId: string, row?: Record<string, string | number | boolean | null> | null): void;
}

/** A span as `<sightline-trace>` drew it. */
export interface SightlineSpan {
  id: string;
  /** Null for a root. */
  parent: string | null;
  name: string;
  service: string;
  /** Unix seconds. */
  start: number;
  /** Milliseconds. */
  duration: number;
  /** The error message, `status 5xx`, or null. */
  error: string | null;
  /** Every non-null field of the span's row. */
  fields: Record<string, string | number | boolean | null>;
  /** 0 for a root. */
  depth: number;
  /** Its parent is named but not in the trace. */
  orphan: boolean;
  children: SightlineSpan[];
}

/**
 * `<sightline-trace trace-id="…">`: one trace's waterfall, spans under their parents
 * (children in start order) with duration bars on the trace's time axis, errors marked,
 * a span's fields on click or Enter. Spans come from the source's own rows when it has
 * trace, span and parent columns and computes locally, else from `trace-src` (a URL with
 * `{id}`, answering as `/api/trace`) or the source's `traceUrl`. Attributes: `trace-id`,
 * `trace-src`, `trace-column`, `span-column`, `parent-column`, `name-column`,
 * `service-column`, `duration-column`, `duration-unit` (`ms` default, `s`, `us`, `ns`),
 * `time-column`, `time-zone`. Keyboard (a tree): arrows, Home/End, Left/Right fold and
 * unfold, Enter shows the fields. Parts `status`, `services`, `waterfall`, `span`,
 * `span-detail`. Events `sightline-trace`, `sightline-span-click`, `sightline-error`.
 */
export class SightlineTrace extends SightlineSourceBound {
  traceId: string;
  /** The spans drawn, depth first. */
  readonly spans: SightlineSpan[];
}

/** Spans nested under their parents, depth first, each parent's children in start order. */
export function spanTree<S extends { id: string; parent: string | null; start: number; duration: number }>(spans: S[]): Array<S & { depth: number; orphan: boolean; children: S[] }>;

/** Column names `<sightline-trace>` and `<sightline-events>` look for, in order. */
export const TRACE_NAMES: Readonly<Record<'trace' | 'span' | 'parent' | 'name' | 'service' | 'duration' | 'time' | 'error' | 'status', readonly string[]>>;

export interface SightlineTraceOpenDetail {
  traceId: string;
  /** The event whose trace id was clicked. */
  row: Record<string, string | number | boolean | null>;
}

export interface SightlineTraceDetail {
  traceId: string;
  spans: number;
  errors: number;
  durationMs: number;
}

export interface SightlineSpanClickDetail {
  traceId: string;
  spanId: string;
  /** The span's fields. */
  span: Record<string, string | number | boolean | null>;
}

/** What `save()` returns and `restore()` takes. */
export interface SightlineSavedView {
  v: 1;
  query: QuerySpec;
  selection?: SightlineSelection;
  /** The comparison's baseline period in seconds; absent: the rest of the scope. */
  baseline?: number;
  customer?: string;
  customerColumn?: string;
}

/**
 * `<sightline-explorer src="/api/demo">`: query builder, charts, results, brush-to-compare,
 * raw events; with `customer-column` and `customer`, a lens on one customer. Attributes:
 * `src`, `source`, `customer-column`, `customer`, `sync-url` (keep the view in the page
 * URL's hash), `time-zone`; parts `status`, `progress`, `builder`, `filters`, `lens`,
 * `lens-heatmap`, `lens-compare`, `heatmap`, `breakdown`, `compare`, `events`.
 */
export class SightlineExplorer extends SightlineSourceBound {
  /** The whole query (calculations, filters, breakdowns, orders, havings, limit, time). */
  query: QuerySpec;
  customerColumn: string;
  customer: string;
  save(): SightlineSavedView;
  restore(state: SightlineSavedView): void;
  /** Compares the lens customer's events with everyone else's. */
  compareCustomer(): void;
  /**
   * The view as board panels (a heatmap panel per HEATMAP, a line panel with the rest);
   * fires `sightline-save-to-board` (cancelable), then adds them to the board the `board`
   * attribute names.
   */
  saveToBoard(): SightlineBoardPanel[];
  toCSV(): string;
  exportCSV(filename?: string): void;
  exportPNG(filename?: string): Promise<void>;
}

/** What a board panel draws its query as. */
export type SightlineBoardKind = 'heatmap' | 'line' | 'bars' | 'table' | 'number';

export interface SightlineBoardPanel {
  /** Default: named from the query (`P99(duration_ms) by build_id where method = POST`). */
  title?: string;
  kind: SightlineBoardKind;
  query: QuerySpec;
  /** Columns of the two-column grid; default 2 for heatmap and line, else 1. */
  width?: 1 | 2;
}

/** A board's JSON. Its time fields become its source's time range. */
export interface SightlineBoardSpec {
  v?: 1;
  title?: string;
  time_range?: number;
  start_time?: number;
  end_time?: number;
  panels: SightlineBoardPanel[];
}

/** A board that cannot be read: `field` names what is wrong (`panels[2].kind`). */
export class BoardError extends Error {
  readonly field: string;
}

export const BOARD_KINDS: readonly SightlineBoardKind[];

/** Checks and normalises a board (object or JSON text); throws `BoardError`. */
export function parseBoard(input: SightlineBoardSpec | string): Required<Pick<SightlineBoardSpec, 'v' | 'title'>> & SightlineBoardSpec & { panels: Array<Required<SightlineBoardPanel>> };

/**
 * `<sightline-board board="/boards/checkout.json">`: a saved report, a grid of panels
 * over one source and one time range, linked (a brush or a click on a group narrows
 * every panel; chips say what narrows them). Attributes `board` (URL or JSON), `src`,
 * `source`, `loading="lazy"`, `sync-url`, `markers`, `time-zone`. Events
 * `sightline-board-change`, `sightline-error`.
 */
export class SightlineBoard extends SightlineSourceBound {
  /** The board (its time range read from the source); setting it checks it (throws `BoardError`). */
  board: SightlineBoardSpec;
  addPanel(...panels: SightlineBoardPanel[]): number;
  removePanel(index: number): void;
  toJSON(): SightlineBoardSpec;
  exportJSON(filename?: string): void;
  /** Replaces the board from JSON text; a bad one changes nothing and is returned (and fired). */
  importJSON(text: string): BoardError | Error | null;
}

export interface SightlineBoardChangeDetail {
  board: SightlineBoardSpec;
}

export interface SightlineSaveToBoardDetail {
  panels: SightlineBoardPanel[];
}

/** A CSV cell, with spreadsheet formulas defused by a leading apostrophe. */
export function csvCell(value: string | number | boolean | null | undefined): string;
export function toCSV(columns: string[], rows: Array<Array<string | number | boolean | null>>): string;

export default SightlineHeatmap;

declare global {
  interface HTMLElementTagNameMap {
    'sightline-heatmap': SightlineHeatmap;
    'sightline-source': SightlineSourceElement;
    'sightline-breakdown': SightlineBreakdown;
    'sightline-compare': SightlineCompare;
    'sightline-events': SightlineEvents;
    'sightline-explorer': SightlineExplorer;
    'sightline-trace': SightlineTrace;
    'sightline-board': SightlineBoard;
  }
  interface HTMLElementEventMap {
    'sightline-progress': CustomEvent<SightlineProgressDetail>;
    'sightline-error': CustomEvent<SightlineErrorDetail>;
    'sightline-ready': CustomEvent<SightlineReadyDetail>;
    'sightline-select': CustomEvent<SightlineSelectDetail>;
    'sightline-query-change': CustomEvent<SightlineQueryChangeDetail>;
    'sightline-row-click': CustomEvent<SightlineRowClickDetail>;
    'sightline-baseline-change': CustomEvent<SightlineBaselineChangeDetail>;
    'sightline-render': CustomEvent<SightlineRenderDetail>;
    'sightline-result': CustomEvent<SightlineResultDetail>;
    'sightline-filter': CustomEvent<SightlineFilterDetail>;
    'sightline-group-by': CustomEvent<SightlineGroupByDetail>;
    'sightline-trace-open': CustomEvent<SightlineTraceOpenDetail>;
    'sightline-trace': CustomEvent<SightlineTraceDetail>;
    'sightline-span-click': CustomEvent<SightlineSpanClickDetail>;
    'sightline-board-change': CustomEvent<SightlineBoardChangeDetail>;
    'sightline-save-to-board': CustomEvent<SightlineSaveToBoardDetail>;
  }
}

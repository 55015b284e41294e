// Type declarations for www/sightline.js: the <sightline-heatmap> element and SightlineClient.

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

export type HeatmapScale = 'log' | 'linear';

/** What to count. Times are unix seconds. */
export interface HeatmapSpec {
  column: string;
  time_column?: string;
  start_time?: number;
  end_time?: number;
  /** Default 120, at most 2000. */
  time_buckets?: number;
  /** Default 40, at most 1000. */
  value_buckets?: number;
  /** Default `log`. */
  scale?: HeatmapScale;
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

export type FilterOp =
  | '=' | '!=' | '>' | '>=' | '<' | '<='
  | 'starts-with' | 'does-not-start-with' | 'ends-with' | 'does-not-end-with'
  | 'contains' | 'does-not-contain' | 'exists' | 'does-not-exist' | 'in' | 'not-in';
export type FilterValue = string | number | boolean | Array<string | number | boolean>;
export interface Filter { column: string; op: FilterOp; value?: FilterValue }
export type CalculationOp =
  | 'COUNT' | 'CONCURRENCY' | 'COUNT_DISTINCT' | 'SUM' | 'AVG' | 'MIN' | 'MAX'
  | 'P001' | 'P01' | 'P05' | 'P10' | 'P20' | 'P25' | 'P50' | 'P75' | 'P80' | 'P90' | 'P95' | 'P99' | 'P999'
  | 'HEATMAP' | 'RATE_AVG' | 'RATE_SUM' | 'RATE_MAX';

/** Honeycomb's query specification, plus `time_column`, `heatmap` and `disable_series`. */
export interface QuerySpec {
  calculations?: Array<{ op: CalculationOp; column?: string }>;
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  breakdowns?: string[];
  orders?: Array<{ op?: CalculationOp; column?: string; order?: 'ascending' | 'descending' }>;
  havings?: Array<{ calculate_op: CalculationOp; column?: string; op: '=' | '!=' | '>' | '>=' | '<' | '<='; value: number }>;
  /** Default 100, at most 10,000. */
  limit?: number;
  start_time?: number;
  end_time?: number;
  time_range?: number;
  granularity?: number;
  time_column?: string;
  heatmap?: { value_buckets?: number; time_buckets?: number; scale?: 'log' | 'linear' };
  disable_series?: boolean;
}

/** A result row: breakdown values and calculations keyed as Honeycomb names them (`P99(duration_ms)`). */
export type ResultRow = Record<string, string | number | boolean | null>;

export interface QueryResult {
  results: ResultRow[];
  /** One row per non-empty (bucket, group): `time` plus the row's keys. */
  series: ResultRow[];
  heatmaps: Array<{
    name: string; column: string; time_edges: number[]; value_edges: number[]; scale: 'log' | 'linear';
    counts: Uint32Array; low: Uint32Array; max_count: number; total: number; nulls: number;
  }>;
  columns: string[];
  start_time: number;
  end_time: number;
  granularity: number;
  scanned: number;
  matched: number;
  groups: number;
}

export interface CompareSide {
  start_time?: number;
  end_time?: number;
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  /** Baseline only: the selection's window this many seconds earlier. */
  period?: number;
}

export interface CompareSpec {
  scope?: QuerySpec;
  selection: CompareSide;
  baseline?: CompareSide;
  dimensions?: string[];
  measures?: string[];
  top?: number;
  min_count?: number;
  alpha?: number;
}

export interface ValueDiff {
  value: string | number | boolean | null;
  selection_count: number;
  selection_share: number;
  baseline_count: number;
  baseline_share: number;
  diff_pp: number;
  lift: number | null;
  p_value: number | null;
  significant: boolean;
}

export interface Comparison {
  selection_count: number;
  baseline_count: number;
  tests: number;
  dimensions: Array<{
    column: string; score: number; tvd: number; distinct: number; values: ValueDiff[];
    other: { values: number; selection_count: number; baseline_count: number };
  }>;
  measures: Array<{
    column: string; score: number; p_value: number | null; significant: boolean; edges: number[]; scale: 'log' | 'linear';
    selection: { count: number; p50: number | null; p95: number | null; histogram: number[] };
    baseline: { count: number; p50: number | null; p95: number | null; histogram: number[] };
  }>;
}

/** A promise wrapper over one engine worker, which holds one dataset. */
export class SightlineClient {
  constructor(options?: { workerUrl?: string | URL });
  /** Sends a raw request; rejects with the engine's message. */
  request(type: string, args?: Record<string, unknown>, transfer?: Transferable[]): Promise<unknown>;
  /** Replaces the dataset with an empty one. */
  reset(options?: { budgetBytes?: number }): Promise<{ rows: number }>;
  /**
   * Feeds the next bytes of an Arrow IPC stream (cut anywhere). Copies the bytes unless
   * `transfer` is set and the view covers its whole buffer, which is then detached.
   */
  push(chunk: Uint8Array | ArrayBuffer, options?: { transfer?: boolean }): Promise<PushResult>;
  /** Ends the stream; rejects if it stopped inside a message or failed earlier. */
  finish(): Promise<{ rowCount: number; bytesConsumed: number }>;
  schema(): Promise<FieldInfo[]>;
  stats(): Promise<DatasetStats>;
  render(spec: HeatmapSpec, options?: RenderOptions, extra?: { counts?: boolean }): Promise<RenderResult>;
  /** Runs a query in Honeycomb's query specification (README.md, "Queries"). */
  query(spec: QuerySpec): Promise<QueryResult>;
  /** What is different about the selected events (README.md, "Comparisons"). */
  compare(spec: CompareSpec): Promise<Comparison>;
  /** Stops the worker; pending requests reject. */
  terminate(): void;
}

export type SightlineState = 'idle' | 'loading' | 'ready' | 'error';

export interface SightlineProgressDetail {
  bytes: number;
  rows: number;
  /** From `Content-Length` (or the size of the bytes given to `load`). */
  totalBytes?: number;
  /** From the `X-Sightline-Rows` response header. */
  totalRows?: number;
}

export interface SightlineErrorDetail {
  message: string;
}

export interface SightlineReadyDetail {
  rows: number;
  bytes: number;
  /** Milliseconds from the start of the load to the end of the stream. */
  ms: number;
}

export interface SightlineHeatmapEventMap extends HTMLElementEventMap {
  'sightline-progress': CustomEvent<SightlineProgressDetail>;
  'sightline-error': CustomEvent<SightlineErrorDetail>;
  'sightline-ready': CustomEvent<SightlineReadyDetail>;
}

/**
 * `<sightline-heatmap src="/api/demo" column="duration_ms">`: a streaming heatmap of a
 * numeric column over time.
 *
 * Attributes: `src`, `column` (default `duration_ms`), `time-buckets` (120),
 * `value-buckets` (40), `scale` (`log` | `linear`), `unit`, `time-zone` (`utc` or local),
 * and `state` (set by the element: `loading` | `ready` | `error`).
 *
 * Styling: `--sightline-bg`, `--sightline-fg`, `--sightline-font`, `--sightline-palette`
 * (space-separated colours), `--sightline-height`, `--sightline-accent`,
 * `--sightline-border`, `--sightline-muted`; parts `status`, `progress`, `canvas`, `tooltip`.
 */
export class SightlineHeatmap extends HTMLElement {
  static readonly observedAttributes: string[];
  src: string;
  column: string;
  timeBuckets: number;
  valueBuckets: number;
  scale: HeatmapScale;
  readonly state: SightlineState;
  /** Rows loaded so far. */
  readonly rows: number;
  /** The last error message, or null. */
  readonly error: string | null;
  /** The engine client (created on first use; terminated when the element leaves the document). */
  readonly client: SightlineClient;
  /** Loads an Arrow IPC stream, replacing any data; resolves when it is drawn. */
  load(input: Uint8Array | ArrayBuffer | Response | Blob): Promise<{ rows: number; bytes: number }>;
  /** Re-fetches `src`. */
  reload(): Promise<void>;
  /** Redraws, e.g. after changing the `--sightline-*` custom properties. */
  refresh(): void;
  schema(): Promise<FieldInfo[]>;
  stats(): Promise<DatasetStats>;

  addEventListener<K extends keyof SightlineHeatmapEventMap>(
    type: K,
    listener: (this: SightlineHeatmap, ev: SightlineHeatmapEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof SightlineHeatmapEventMap>(
    type: K,
    listener: (this: SightlineHeatmap, ev: SightlineHeatmapEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ): void;
}

export default SightlineHeatmap;

declare global {
  interface HTMLElementTagNameMap {
    'sightline-heatmap': SightlineHeatmap;
  }
  interface HTMLElementEventMap {
    'sightline-progress': CustomEvent<SightlineProgressDetail>;
    'sightline-error': CustomEvent<SightlineErrorDetail>;
    'sightline-ready': CustomEvent<SightlineReadyDetail>;
  }
}

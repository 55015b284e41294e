// Types of `sightline/react` (www/react.js).
import type { ForwardRefExoticComponent, HTMLAttributes, ReactNode, RefAttributes } from 'react';
import type {
  CompareSpec,
  Filter,
  QuerySpec,
  SightlineBaselineChangeDetail,
  SightlineBreakdown,
  SightlineCompare,
  SightlineErrorDetail,
  SightlineEvents,
  SightlineExplorer,
  SightlineFilterDetail,
  SightlineGroupByDetail,
  SightlineHeatmap,
  SightlineProgressDetail,
  SightlineQueryChangeDetail,
  SightlineReadyDetail,
  SightlineRenderDetail,
  SightlineResultDetail,
  SightlineRowClickDetail,
  SightlineSelectDetail,
  SightlineSource,
  SightlineSourceElement,
  SightlineSpanClickDetail,
  SightlineTrace,
  SightlineTraceDetail,
  SightlineTraceOpenDetail,
  SightlineBoard,
  SightlineBoardChangeDetail,
  SightlineBoardSpec,
  SightlineSaveToBoardDetail,
} from './sightline.js';

export type SightlineHandler<D> = (event: CustomEvent<D>) => void;

/** Props every component has; the names of React's own handlers that clash are the elements' events here. */
type Base<E extends HTMLElement> = Omit<HTMLAttributes<E>, 'onError' | 'onSelect' | 'onProgress' | 'onLoad' | 'children'> &
  RefAttributes<E> & {
    children?: ReactNode;
    /** An Arrow IPC stream URL: the element owns a private source and worker. */
    src?: string;
    /** `auto` (default), `local` (load into the browser) or `remote` (ask the server's engine). */
    mode?: 'auto' | 'local' | 'remote';
    /** Above this many rows `auto` computes on the server; default 2,000,000. */
    localRows?: number;
    onProgress?: SightlineHandler<SightlineProgressDetail>;
    onReady?: SightlineHandler<SightlineReadyDetail>;
    onError?: SightlineHandler<SightlineErrorDetail>;
  };

type Bound<E extends HTMLElement> = Base<E> & {
  /** The id of a `<sightline-source>`, or a shared `SightlineSource`. */
  source?: string | SightlineSource;
  /** Options of the fetch of `src`, e.g. `{ headers: { Authorization: 'Bearer …' } }`. */
  fetchInit?: RequestInit;
  /** An IANA zone, `utc` or `local` (the default). */
  timeZone?: string;
};

export interface ExplorerProps extends Bound<SightlineExplorer> {
  query?: QuerySpec;
  /** What the default view draws (default: a latency-like number column of the schema). */
  valueColumn?: string;
  /** Default: the data's first time column. */
  timeColumn?: string;
  /** Default: a customer-like string column of the schema. */
  customerColumn?: string;
  customer?: string;
  /** Keep the view in the page URL's hash. */
  syncUrl?: boolean;
  onQueryChange?: SightlineHandler<SightlineQueryChangeDetail>;
  onRowClick?: SightlineHandler<SightlineRowClickDetail>;
  onSelect?: SightlineHandler<SightlineSelectDetail>;
  /** A trace id clicked in the events table (the explorer then shows the trace). */
  onTraceOpen?: SightlineHandler<SightlineTraceOpenDetail>;
  /** A URL answering `{ markers: [{ time, label, kind }] }`, or the JSON list. */
  markers?: string;
  /** The id of a `<sightline-board>`: shows "Save to board". */
  board?: string;
  onSaveToBoard?: SightlineHandler<SightlineSaveToBoardDetail>;
}

export interface HeatmapProps extends Bound<SightlineHeatmap> {
  /** Default: a latency-like number column of the schema. */
  column?: string;
  /** Default: the data's first time column. */
  timeColumn?: string;
  timeBuckets?: number;
  valueBuckets?: number;
  scale?: 'log' | 'linear';
  unit?: string;
  label?: string;
  filters?: Filter[];
  onRender?: SightlineHandler<SightlineRenderDetail>;
  onSelect?: SightlineHandler<SightlineSelectDetail>;
}

export interface BreakdownProps extends Bound<SightlineBreakdown> {
  /** `COUNT, P99(duration_ms)` */
  calculations?: string;
  /** `endpoint, region` */
  breakdowns?: string;
  /** `P99(duration_ms) desc, COUNT desc`: which groups the limit keeps, in what order. */
  orders?: string;
  /** `COUNT > 10, P99(duration_ms) >= 500` */
  havings?: string;
  limit?: number;
  charts?: 'none';
  query?: QuerySpec;
  onResult?: SightlineHandler<SightlineResultDetail>;
  onRowClick?: SightlineHandler<SightlineRowClickDetail>;
}

export interface CompareProps extends Bound<SightlineCompare> {
  top?: number;
  baselinePeriod?: number;
  noFilter?: boolean;
  spec?: CompareSpec | null;
  onResult?: SightlineHandler<SightlineResultDetail>;
  onFilter?: SightlineHandler<SightlineFilterDetail>;
  onGroupBy?: SightlineHandler<SightlineGroupByDetail>;
  onBaselineChange?: SightlineHandler<SightlineBaselineChangeDetail>;
}

export interface EventsProps extends Bound<SightlineEvents> {
  limit?: number;
  /** `time, endpoint, duration_ms` */
  columns?: string;
  filters?: Filter[];
  /** The column of trace ids (default: `trace_id`, `trace.trace_id`, `TraceId` or `traceId`). */
  traceColumn?: string;
  /** The id of the `<sightline-trace>` a clicked trace id opens in. */
  traceTarget?: string;
  onRowClick?: SightlineHandler<SightlineRowClickDetail>;
  onTraceOpen?: SightlineHandler<SightlineTraceOpenDetail>;
}

export interface TraceProps extends Bound<SightlineTrace> {
  traceId?: string;
  /** A URL with `{id}` answering as `/api/trace`. */
  traceSrc?: string;
  traceColumn?: string;
  spanColumn?: string;
  parentColumn?: string;
  nameColumn?: string;
  serviceColumn?: string;
  durationColumn?: string;
  durationUnit?: 's' | 'ms' | 'us' | 'ns';
  timeColumn?: string;
  onTrace?: SightlineHandler<SightlineTraceDetail>;
  onSpanClick?: SightlineHandler<SightlineSpanClickDetail>;
}

export interface SourceProps extends Base<SightlineSourceElement> {
  /** The id other components name with `source`. */
  id: string;
  budgetBytes?: number;
}

export const Explorer: ForwardRefExoticComponent<ExplorerProps>;
export const Heatmap: ForwardRefExoticComponent<HeatmapProps>;
export const Breakdown: ForwardRefExoticComponent<BreakdownProps>;
export const Compare: ForwardRefExoticComponent<CompareProps>;
export const Events: ForwardRefExoticComponent<EventsProps>;
export const Trace: ForwardRefExoticComponent<TraceProps>;

export interface BoardProps extends Bound<SightlineBoard> {
  /** The board (checked when set: a bad one throws `BoardError`, naming the field). */
  board?: SightlineBoardSpec;
  /** `lazy`: open `src` when the board is first on screen. */
  loading?: 'lazy' | 'eager';
  syncUrl?: boolean;
  markers?: string;
  onBoardChange?: SightlineHandler<SightlineBoardChangeDetail>;
}
export const Board: ForwardRefExoticComponent<BoardProps>;
export const Source: ForwardRefExoticComponent<SourceProps>;

/** The raw tags in JSX, with their attributes (strings, as HTML has them). */
type Tag<E extends HTMLElement, A> = HTMLAttributes<E> & RefAttributes<E> & A & { class?: string; src?: string; source?: string; mode?: string; 'local-rows'?: string | number; 'time-zone'?: string };

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'sightline-explorer': Tag<SightlineExplorer, { 'value-column'?: string; 'time-column'?: string; 'customer-column'?: string; customer?: string; 'sync-url'?: boolean | ''; markers?: string; board?: string }>;
      'sightline-heatmap': Tag<
        SightlineHeatmap,
        { column?: string; 'time-column'?: string; 'time-buckets'?: string | number; 'value-buckets'?: string | number; scale?: 'log' | 'linear'; unit?: string; label?: string; filters?: string }
      >;
      'sightline-breakdown': Tag<SightlineBreakdown, { calculations?: string; breakdowns?: string; orders?: string; havings?: string; limit?: string | number; charts?: 'none' }>;
      'sightline-compare': Tag<SightlineCompare, { top?: string | number; 'baseline-period'?: string | number; 'no-filter'?: boolean | '' }>;
      'sightline-events': Tag<SightlineEvents, { limit?: string | number; columns?: string; filters?: string; 'trace-column'?: string; 'trace-target'?: string }>;
      'sightline-board': Tag<SightlineBoard, { board?: string; loading?: 'lazy' | 'eager'; 'sync-url'?: boolean | ''; markers?: string }>;
      'sightline-trace': Tag<
        SightlineTrace,
        {
          'trace-id'?: string;
          'trace-src'?: string;
          'trace-column'?: string;
          'span-column'?: string;
          'parent-column'?: string;
          'name-column'?: string;
          'service-column'?: string;
          'duration-column'?: string;
          'duration-unit'?: 's' | 'ms' | 'us' | 'ns';
          'time-column'?: string;
        }
      >;
      'sightline-source': Tag<SightlineSourceElement, { 'budget-bytes'?: string | number }>;
    }
  }
}

// Type-checks the public declarations (www/sightline.d.ts) the way an embedding page
// would use them: `npx tsc -p tests/types` (run by scripts/test.sh). Not executed.

import {
  RemoteDataset,
  RemoteError,
  SightlineClient,
  SightlineSource,
  TRACE_NAMES,
  spanTree,
  BOARD_KINDS,
  BoardError,
  parseBoard,
  type SightlineBoardPanel,
  type SightlineSpan,
  type QuerySpec,
  type CompareSpec,
  type EventsSpec,
  type SightlineSavedView,
} from '../../www/sightline.js';

async function remote(): Promise<void> {
  const big = new RemoteDataset('spans', { baseUrl: 'https://sightline.internal', fetchInit: { headers: { Authorization: 'Bearer t' } } });
  try {
    const r = await big.query({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }] });
    const counts: Uint32Array = r.heatmaps[0].counts;
    const c = await big.compare({ selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] } });
    console.log(counts.length, c.dimensions[0]?.column, big.source);
  } catch (e) {
    if (e instanceof RemoteError) console.log(e.status, e.column, e.operator, e.parameter);
  }
}

async function usage(): Promise<void> {
  const explorer = document.createElement('sightline-explorer');
  explorer.fetchInit = { headers: { Authorization: 'Bearer token' } };
  explorer.src = '/api/demo?rows=100000';
  explorer.customerColumn = 'customer_id';
  explorer.customer = 'cust_00042';
  const query: QuerySpec = {
    calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'P99', column: 'duration_ms' }],
    filters: [{ column: 'status_code', op: '>=', value: 500 }],
    breakdowns: ['endpoint'],
    orders: [{ op: 'P99', column: 'duration_ms', order: 'descending' }],
    limit: 20,
    time_range: 3600,
  };
  explorer.query = query;
  explorer.addEventListener('sightline-select', (e) => {
    const s = e.detail.selection;
    if (s) console.log(s.start_time, s.end_time, s.min ?? 0);
  });
  explorer.addEventListener('sightline-query-change', (e) => console.log(e.detail.query.breakdowns?.length));
  explorer.addEventListener('sightline-row-click', (e) => console.log(e.detail.row['customer_id'], e.detail.kind));
  explorer.addEventListener('sightline-progress', (e) => console.log(e.detail.rows, e.detail.totalRows));
  explorer.addEventListener('sightline-error', (e) => console.log(e.detail.message.length));
  document.body.append(explorer);
  const saved: SightlineSavedView = explorer.save();
  explorer.restore(saved);
  const csv: string = explorer.toCSV();
  console.log(csv.length);

  const heatmap = document.createElement('sightline-heatmap');
  heatmap.column = 'duration_ms';
  heatmap.scale = 'log';
  heatmap.filters = [{ column: 'customer_id', op: '=', value: 'cust_00042' }];
  const loaded = await heatmap.load(new Uint8Array(0));
  console.log(loaded.rows, heatmap.heatmap?.total, heatmap.plot?.w);
  const png: Blob = await heatmap.toPNG();
  // @ts-expect-error: the scale is 'log' or 'linear'
  heatmap.scale = 'cubic';
  // @ts-expect-error: not a filter operator
  heatmap.filters = [{ column: 'x', op: '~=', value: 1 }];
  // The DOM's own append stays; tailing is appendStream.
  heatmap.append(document.createElement('span'));
  await heatmap.appendStream('/api/events?source=demo&limit=10');
  console.log(png.size);

  const source = new SightlineSource({ budgetBytes: 512 << 20 });
  await source.load('/api/events?source=demo&limit=500');
  const opened: { rows: number; mode: 'local' | 'remote' } = await source.open('/api/events?source=events', { mode: 'auto', localRows: 1_000_000 });
  const where: string | undefined = source.computed?.where ?? source.remote?.engine;
  void opened;
  void where;
  await source.append(new ArrayBuffer(0));
  source.addFilter({ column: 'region', op: '=', value: 'eu-west-1' });
  source.select({ start_time: 0, end_time: 60, column: 'duration_ms', min: 1000 });
  const breakdown = document.createElement('sightline-breakdown');
  breakdown.source = source;
  breakdown.query = { calculations: [{ op: 'COUNT' }], breakdowns: ['host'] };
  const compare = document.createElement('sightline-compare');
  compare.source = source;
  const spec: CompareSpec = { selection: { filters: [{ column: 'customer_id', op: '=', value: 'x' }] } };
  compare.spec = spec;
  compare.baselinePeriod = 86400;
  compare.addEventListener('sightline-baseline-change', (e) => console.log(e.detail.period + 1));
  const withBaseline: SightlineSavedView = { v: 1, query: {}, baseline: 604800 };
  explorer.restore(withBaseline);
  const events = document.createElement('sightline-events');
  events.source = source;
  console.log(events.result?.matched, compare.result?.dimensions[0]?.score, breakdown.result?.matched);
  events.addEventListener('sightline-trace-open', (e) => console.log(e.detail.traceId.length, e.detail.row.endpoint));
  events.openTrace('0af7651916cd43dd8448eb211c80319c');
  const trace = document.createElement('sightline-trace');
  trace.source = source;
  trace.traceId = '0af7651916cd43dd8448eb211c80319c';
  trace.addEventListener('sightline-trace', (e) => console.log(e.detail.spans + e.detail.errors, e.detail.durationMs.toFixed(1)));
  trace.addEventListener('sightline-span-click', (e) => console.log(e.detail.spanId, e.detail.span.name));
  const root: SightlineSpan | undefined = trace.spans[0];
  console.log(root?.children.length, root?.depth, source.traceUrl?.replace('{id}', trace.traceId), TRACE_NAMES.span[0]);
  const board = document.createElement('sightline-board');
  board.source = source;
  const panel: SightlineBoardPanel = { kind: 'bars', query: { calculations: [{ op: 'P95', column: 'duration_ms' }], breakdowns: ['customer_id'] }, width: 1 };
  board.board = { title: 'Checkout', time_range: 86400, panels: [panel] };
  console.log(board.addPanel({ kind: 'number', query: { calculations: [{ op: 'COUNT' }] } }), BOARD_KINDS.length);
  board.addEventListener('sightline-board-change', (e) => console.log(e.detail.board.panels.length));
  explorer.addEventListener('sightline-save-to-board', (e) => e.detail.panels.forEach((p) => console.log(p.kind)));
  console.log(explorer.saveToBoard().length, parseBoard('{"panels":[]}').title);
  const bad = board.importJSON('{');
  if (bad instanceof BoardError) console.log(bad.field);
  const tree = spanTree([{ id: 'a', parent: null, start: 0, duration: 1, name: 'x' }]);
  console.log(tree[0].depth, tree[0].name);

  const client = new SightlineClient();
  const e: EventsSpec = { limit: 500, order: 'newest', filters: [{ column: 'customer_id', op: '=', value: 'x' }] };
  const rows = await client.events(e);
  console.log(rows.columns.length, rows.rows[0]?.[0]);
  const q = await client.query(query, { channel: 'main' });
  console.log(q.results.length);
  client.terminate();
  source.close();
}

void usage;

// The specification types come from the engine's Rust types (www/engine/spec.d.ts): a
// typo must not compile. Each line below is an error tsc must report, or the
// `@ts-expect-error` itself fails the check.
export const typos: QuerySpec[] = [
  // @ts-expect-error: P98 is not a calculation operator.
  { calculations: [{ op: 'P98', column: 'duration_ms' }] },
  // @ts-expect-error: `calculation` is not a field (the engine's deny_unknown_fields).
  { calculation: [{ op: 'COUNT' }] },
  // @ts-expect-error: the filter operator is `starts-with`.
  { filters: [{ column: 'endpoint', op: 'starts_with', value: '/api' }] },
  // @ts-expect-error: a having compares with =, !=, >, >=, <, <= only.
  { calculations: [{ op: 'COUNT' }], havings: [{ calculate_op: 'COUNT', op: 'contains', value: 1 }] },
  // @ts-expect-error: orders are ascending or descending.
  { orders: [{ op: 'COUNT', order: 'desc-ish' }] },
];
export const typoCompare: CompareSpec = {
  selection: {},
  // @ts-expect-error: `dimension` is `dimensions`.
  dimension: ['endpoint'],
};

// `sightline/engine` (pkg/sightline.js): Dataset's methods take and return the same
// generated types.
import type { Dataset } from '../../pkg/sightline.js';
export function engine(ds: Dataset): number {
  const r = ds.query({ calculations: [{ op: 'P99', column: 'duration_ms' }], breakdowns: ['endpoint'] });
  const c = ds.compare({ selection: { filters: [{ column: 'duration_ms', op: '>', value: 500 }] } });
  const counts: Uint32Array = r.heatmaps[0]?.counts ?? new Uint32Array();
  // @ts-expect-error: not an operator.
  ds.query({ calculations: [{ op: 'P98', column: 'duration_ms' }] });
  return r.matched + c.selection_count + counts.length;
}

// Errors carry what the engine names, typed from its Rust ErrorKind.
import type { SightlineError } from '../../www/sightline.js';
export function describe(e: SightlineError): string {
  switch (e.kind) {
    case 'unknown_column':
      return `no column ${e.column}`;
    case 'operator':
      return `${e.operator} does not fit ${e.column}`;
    case 'ingest':
      return `bad bytes at ${e.offset}`;
    // @ts-expect-error: not a kind the engine has.
    case 'unknown_colum':
      return '';
    default:
      return e.message;
  }
}

// A time comparison: the earlier window's result rides along as `previous`.
export function weekOverWeek(ds: Dataset): number | undefined {
  const r = ds.query({ calculations: [{ op: 'P99', column: 'duration_ms' }], time_range: 3600, compare_time_offset_seconds: 604800 });
  const earlier = r.previous?.results[0]?.['P99(duration_ms)'];
  return typeof earlier === 'number' ? earlier : undefined;
}

// The explorer's default views as engine calls: what www/elements/{heatmap,breakdown,
// compare,events}.js and explorer.js send with the demo page's attributes (the heatmap
// with its series on, the slowest form a default view asks for). Shared by
// bench/query.mjs (defaults mode, Node) and bench/scale.mjs (5M and 20M in Chromium).
//
// `t0`: the data's first second; the brush is 16:00-16:30 x duration >= 1 s (the demo's
// bad-build incident). Each entry: [name, target ms, (ds) => result].
export function defaultViews(t0) {
  const brush = { start_time: t0 + 16 * 3600, end_time: t0 + 16 * 3600 + 1800, filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] };
  const lines = [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }];
  return [
    ['heatmap + series', 16, (ds) => ds.query({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], heatmap: { value_buckets: 40, scale: 'log' }, filters: [] })],
    ['breakdown (COUNT, P99 + series)', 16, (ds) => ds.query({ calculations: lines, filters: [], breakdowns: [], orders: [], havings: [], time_zone: 'UTC' })],
    ['customer picker', 16, (ds) => ds.query({ calculations: [{ op: 'COUNT' }], breakdowns: ['customer_id'], orders: [{ op: 'COUNT', order: 'descending' }], limit: 1000, disable_series: true })],
    ['events (50 newest)', 16, (ds) => ds.events({ filters: [], limit: 50, order: 'newest' })],
    ['compare, every dimension', 50, (ds) => ds.compare({ scope: { filters: [] }, selection: brush, top: 6 })],
    ['brushed breakdown + series', 16, (ds) => ds.query({ calculations: lines, breakdowns: [], orders: [], havings: [], time_zone: 'UTC', ...brush })],
    ['breakdown by customer_id + series', 16, (ds) => ds.query({ calculations: lines, breakdowns: ['customer_id'], time_zone: 'UTC' })],
  ];
}

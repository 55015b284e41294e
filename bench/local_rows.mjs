// The local side of the crossover that sets `local-rows` (issue 14): the three questions
// of bench/clickhouse_scale.py (heatmap 120x40, COUNT + P50/P95/P99 per customer, a
// 5-dimension comparison) run by the wasm engine in one thread, over the same events
// exported from chdb (SIGHTLINE_EXPORT=FILE python3 bench/clickhouse_scale.py ROWS):
//
//   node bench/local_rows.mjs FILE [runs=5]
//
// Prints the load (decode) time and each query's median time. Compare with the same
// ROWS through the server on ClickHouse (the script's second table).
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, Dataset } from '../pkg/sightline.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });
const [file, runsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/local_rows.mjs FILE [runs]');
const runs = Number(runsArg ?? 5);
const bytes = readFileSync(file);
const t0 = performance.now();
const ds = new Dataset();
for (let at = 0; at < bytes.length; at += 1 << 20) ds.push(bytes.subarray(at, Math.min(bytes.length, at + (1 << 20))));
ds.finish();
const load = performance.now() - t0;
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const specs = {
  'heatmap 120x40': () => ds.query({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], heatmap: { value_buckets: 40, time_buckets: 120 }, disable_series: true }),
  'breakdown 20k groups P50/P95/P99': () => ds.query({
    calculations: [{ op: 'COUNT' }, { op: 'P50', column: 'duration_ms' }, { op: 'P95', column: 'duration_ms' }, { op: 'P99', column: 'duration_ms' }],
    breakdowns: ['customer_id'], limit: 10000, disable_series: true,
  }),
  'compare 5 dimensions': () => ds.compare({
    selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] },
    dimensions: ['endpoint', 'region', 'build_id', 'plan', 'status_code'], measures: [],
  }),
};
console.log(`${ds.rowCount.toLocaleString('en-US')} rows, ${(bytes.length / 1e6).toFixed(1)} MB decoded in ${load.toFixed(0)} ms (wasm, one thread)`);
console.log(`${'query'.padEnd(34)} ${'median ms'.padStart(10)}`);
for (const [name, run] of Object.entries(specs)) {
  run(); // warm
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  console.log(`${name.padEnd(34)} ${median(times).toFixed(1).padStart(10)}`);
}

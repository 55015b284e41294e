// Sightline (wasm) side by side with DuckDB-WASM, Perspective, Arquero and a hand-written
// JS loop over apache-arrow typed arrays, in one Node process, on the demo generator's
// data. Steps: ingest; HEATMAP (120 time x 40 log duration buckets); breakdown by
// customer_id with COUNT, AVG, P50, P95, P99 ordered by P99 desc, limit 20; compare (both
// sides' counts of every value of 13 dimensions). Prints the median CPU ms of several runs
// per step and the ratios to Sightline.
//
// Then the defaults mode: the specs the explorer sends with its default attributes (the
// heatmap with its series, the breakdown, the customer picker, the comparison of a brush
// over every eligible dimension, the events table), each timed once on a freshly loaded
// dataset in the order the page runs them ("first": what a user waits for, dictionaries
// built on first need included) and as the median of the runs after warm-up.
//
//   node --expose-gc bench/query.mjs [rows=1000000] [runs=5] [warmup=2] [all|defaults]
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import * as aq from 'arquero';
import perspective from '@finos/perspective';
import { initSync, Dataset } from '../pkg/sightline.js';
import { defaultViews } from './defaults.mjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });
const ROWS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 5);
// Unmeasured runs first, for every engine alike: JIT tiers (V8 compiles hot wasm and JS
// again, on other threads) settle, and the medians describe the steady state.
const WARMUP = Number(process.argv[4] ?? 2);
// `defaults`: only the defaults mode (no peers).
const MODE = process.argv[5] ?? 'all';
const TB = 120, VB = 40;

// --- data -----------------------------------------------------------------------
const dir = join(root, 'tests', 'out', 'bench');
mkdirSync(dir, { recursive: true });
const path = join(dir, `demo-${ROWS}-none.arrow`);
if (!existsSync(path)) {
  execFileSync(join(root, 'target', 'release', 'sightline'), ['demo', '--rows', String(ROWS), '--out', path]);
}
const bytes = new Uint8Array(readFileSync(path));

// --- measurement ------------------------------------------------------------------
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// `dispose` releases what a run made before the next run, so no engine is measured
// with its earlier copies still in memory.
async function measure(fn, dispose) {
  const cpu = [], wall = [];
  let out;
  for (let r = 0; r < WARMUP + RUNS; r++) {
    if (r > 0 && dispose) await dispose(out);
    if (global.gc) {
      global.gc();
      await new Promise((r) => setTimeout(r, 50)); // let concurrent sweeping finish
    }
    const c0 = process.cpuUsage(), t0 = performance.now();
    out = await fn();
    const c = process.cpuUsage(c0);
    if (r < WARMUP) continue;
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { cpu: median(cpu), wall: median(wall), out };
}

// Everyone buckets the same window: the data's extent split into 120 equal buckets.
const probe = new Dataset();
probe.push(bytes);
probe.finish();
const extent = probe.query({ calculations: [{ op: 'COUNT' }], disable_series: true });
probe.free();
const T0 = extent.start_time, SPAN = extent.end_time - extent.start_time;
const GRAN = Math.ceil(SPAN / TB);
const T0MS = T0 * 1000, WMS = GRAN * 1000;
// Compare: brush 16:00-16:30 x duration >= 1 s (the demo's bad-build incident) against
// the rest; count every value of every dimension (the string, bool and integer
// columns with at most 1,000 values, IDs included) on both sides.
const SEL0 = T0 + 16 * 3600, SEL1 = SEL0 + 1800;
const DIMS = ['endpoint', 'method', 'status_code', 'customer_id', 'plan', 'build_id', 'region', 'host', 'error', 'trace_id', 'user_agent', 'db_calls', 'cache_hit'];

// --- Sightline ------------------------------------------------------------------------
const sightline = {
  name: 'Sightline (wasm)',
  dispose(ds) {
    ds.free();
  },
  ingest() {
    const ds = new Dataset();
    for (let at = 0; at < bytes.length; at += 1 << 20) ds.push(bytes.subarray(at, at + (1 << 20)));
    ds.finish();
    return ds;
  },
  heatmap(ds) {
    const r = ds.query({
      calculations: [{ op: 'HEATMAP', column: 'duration_ms' }],
      start_time: T0, end_time: T0 + GRAN * TB, granularity: GRAN,
      heatmap: { value_buckets: VB }, disable_series: true,
    });
    return r.heatmaps[0].total;
  },
  breakdown(ds) {
    const r = ds.query({
      calculations: ['COUNT', 'AVG', 'P50', 'P95', 'P99'].map((op) => (op === 'COUNT' ? { op } : { op, column: 'duration_ms' })),
      breakdowns: ['customer_id'],
      orders: [{ op: 'P99', column: 'duration_ms', order: 'descending' }],
      limit: 20, disable_series: true,
    });
    return r.results.map((x) => x.customer_id);
  },
  compare(ds) {
    const c = ds.compare({
      selection: { start_time: SEL0, end_time: SEL1, filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] },
      dimensions: DIMS, measures: [],
    });
    const b = c.dimensions.find((d) => d.column === 'build_id');
    return [c.dimensions.length, b.values[0].value, b.values[0].selection_count];
  },
};

// --- DuckDB-WASM (Node blocking build) -------------------------------------------------
const duckdb = require('@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs');
const DIST = dirname(require.resolve('@duckdb/duckdb-wasm'));
const db = await duckdb.createDuckDB({
  mvp: { mainModule: join(DIST, 'duckdb-mvp.wasm'), mainWorker: join(DIST, 'duckdb-node-mvp.worker.cjs') },
  eh: { mainModule: join(DIST, 'duckdb-eh.wasm'), mainWorker: join(DIST, 'duckdb-node-eh.worker.cjs') },
}, new duckdb.VoidLogger(), duckdb.NODE_RUNTIME);
await db.instantiate(() => {});
const conn = db.connect();
let tableNo = 0;
const duck = {
  name: 'DuckDB-WASM 1.32',
  dispose(name) {
    conn.query(`DROP TABLE ${name}`);
  },
  ingest() {
    const name = `t${tableNo++}`;
    conn.insertArrowFromIPCStream(bytes, { name, create: true });
    return name;
  },
  // Clamp with CASE (about 3x faster than least/greatest in 1.32).
  heatmap(t) {
    const r = conn.query(`
      WITH r AS (SELECT min(duration_ms) FILTER (WHERE duration_ms > 0) AS lo, max(duration_ms) AS hi FROM ${t})
      SELECT count(*) AS n FROM (
        SELECT CAST(floor((epoch_ms("timestamp") - ${T0MS}) / ${WMS}) AS INTEGER) AS tb,
               CASE WHEN duration_ms <= 0 THEN -1
                    WHEN duration_ms >= r.hi THEN ${VB - 1}
                    ELSE CAST(floor(ln(duration_ms / r.lo) / ln(r.hi / r.lo) * ${VB}) AS INTEGER) END AS vb
        FROM ${t}, r) GROUP BY tb, vb`);
    let total = 0;
    for (const v of r.getChild('n').toArray()) total += Number(v);
    return total;
  },
  // Exact quantile_cont (approx_quantile was slower and wrong).
  breakdown(t) {
    const r = conn.query(`
      SELECT customer_id, count(*) AS n, avg(duration_ms) AS avg,
             quantile_cont(duration_ms, 0.5) AS p50, quantile_cont(duration_ms, 0.95) AS p95,
             quantile_cont(duration_ms, 0.99) AS p99
      FROM ${t} GROUP BY customer_id ORDER BY p99 DESC, customer_id LIMIT 20`);
    return r.getChild('customer_id').toArray();
  },
  // One GROUPING SETS query counting both sides of every dimension.
  compare(t) {
    const sets = DIMS.map((d) => `(${d})`).join(', ');
    const r = conn.query(`
      SELECT ${DIMS.join(', ')}, count(*) FILTER (WHERE sel) AS s, count(*) FILTER (WHERE NOT sel) AS b
      FROM (SELECT *, (epoch_ms("timestamp") >= ${SEL0 * 1000} AND epoch_ms("timestamp") < ${SEL1 * 1000} AND duration_ms >= 1000) AS sel FROM ${t})
      GROUP BY GROUPING SETS (${sets})`);
    const build = r.getChild('build_id').toArray(), sc = r.getChild('s').toArray();
    let best = null, n = 0;
    for (let i = 0; i < r.numRows; i++) if (build[i] !== null && Number(sc[i]) > n) { n = Number(sc[i]); best = build[i]; }
    return [DIMS.length, best, n];
  },
};

// --- Perspective 3.8 (Node) -----------------------------------------------------------
// Perspective aggregates one way per column, so each further aggregate of duration_ms is
// an expression column aliasing it; it has no P95/P99 aggregate, so its breakdown orders
// by the median (P50) and is left out of the top-20 agreement check.
const pspName = 'Perspective 3.8';
const psp = {
  name: pspName,
  async dispose(t) {
    await t.delete();
  },
  async ingest() {
    return perspective.table(bytes.slice().buffer);
  },
  async heatmap(t) {
    // A view aggregates only when grouped; its first row is then the grand total.
    const lv = await t.view({ columns: ['duration_ms'], aggregates: { duration_ms: 'low' }, group_by: ['method'], filter: [['duration_ms', '>', 0]] });
    const lo = (await lv.to_columns({ start_row: 0, end_row: 1 })).duration_ms[0];
    await lv.delete();
    const hv = await t.view({ columns: ['duration_ms'], aggregates: { duration_ms: 'high' }, group_by: ['method'] });
    const hi = (await hv.to_columns({ start_row: 0, end_row: 1 })).duration_ms[0];
    await hv.delete();
    const v = await t.view({
      expressions: {
        tb: `floor((float("timestamp") - ${T0MS}) / ${WMS})`,
        vb: `if ("duration_ms" <= 0, -1, if ("duration_ms" >= ${hi}, ${VB - 1}, floor(log("duration_ms" / ${lo}) / ${Math.log(hi / lo)} * ${VB})))`,
      },
      group_by: ['tb', 'vb'], columns: ['duration_ms'], aggregates: { duration_ms: 'count' },
    });
    const c = await v.to_columns();
    await v.delete();
    return c.duration_ms[0]; // the root row: every event counted once
  },
  async breakdown(t) {
    const v = await t.view({
      expressions: { d_avg: '"duration_ms"', d_p50: '"duration_ms"' },
      group_by: ['customer_id'], columns: ['duration_ms', 'd_avg', 'd_p50'],
      aggregates: { duration_ms: 'count', d_avg: 'avg', d_p50: 'median' },
      sort: [['d_p50', 'desc']],
    });
    const c = await v.to_columns({ start_row: 0, end_row: 21 });
    await v.delete();
    return c.__ROW_PATH__.slice(1).map((p) => p[0]);
  },
  // Native filters rather than an expression column per view (ten times faster): per
  // dimension, counts in the selection and in all, baseline = all - selection.
  async compare(t) {
    // Datetime filters take a Date (a number is silently ignored).
    const filter = [['timestamp', '>=', new Date(SEL0 * 1000)], ['timestamp', '<', new Date(SEL1 * 1000)], ['duration_ms', '>=', 1000]];
    let best = null, n = 0;
    for (const dim of DIMS) {
      const counts = [];
      for (const f of [filter, []]) {
        const v = await t.view({ group_by: [dim], columns: ['duration_ms'], aggregates: { duration_ms: 'count' }, filter: f });
        counts.push(await v.to_columns());
        await v.delete();
      }
      const [c] = counts;
      if (dim === 'build_id') c.__ROW_PATH__.forEach((p, i) => { if (p.length && p[0] !== null && c.duration_ms[i] > n) { n = c.duration_ms[i]; best = p[0]; } });
    }
    return [DIMS.length, best, n];
  },
};

// --- Arquero 8 ----------------------------------------------------------------------
const arq = {
  name: 'Arquero 8',
  ingest() {
    return aq.fromArrow(bytes);
  },
  heatmap(dt) {
    const lo = dt.filter((d) => d.duration_ms > 0).rollup({ lo: aq.op.min('duration_ms') }).get('lo', 0);
    const hi = dt.rollup({ hi: aq.op.max('duration_ms') }).get('hi', 0);
    const c = dt
      .params({ T0MS, WMS, lo, hi, VB })
      .derive({
        tb: (d, $) => aq.op.floor((+d.timestamp - $.T0MS) / $.WMS),
        vb: (d, $) => (d.duration_ms <= 0 ? -1 : d.duration_ms >= $.hi ? $.VB - 1 : aq.op.floor((aq.op.log(d.duration_ms / $.lo) / aq.op.log($.hi / $.lo)) * $.VB)),
      })
      .groupby('tb', 'vb')
      .count();
    return c.rollup({ s: aq.op.sum('count') }).get('s', 0);
  },
  breakdown(dt) {
    return dt
      .groupby('customer_id')
      .rollup({
        n: aq.op.count(), avg: aq.op.average('duration_ms'),
        p50: aq.op.quantile('duration_ms', 0.5), p95: aq.op.quantile('duration_ms', 0.95), p99: aq.op.quantile('duration_ms', 0.99),
      })
      .orderby(aq.desc('p99'), 'customer_id')
      .slice(0, 20)
      .array('customer_id');
  },
  compare(dt) {
    const t = dt.params({ SEL0MS: SEL0 * 1000, SEL1MS: SEL1 * 1000 })
      .derive({ sel: (d, $) => (+d.timestamp >= $.SEL0MS && +d.timestamp < $.SEL1MS && d.duration_ms >= 1000 ? 1 : 0) });
    let best = null, n = 0;
    for (const dim of DIMS) {
      const g = t.groupby(dim).rollup({ s: aq.op.sum('sel'), total: aq.op.count() });
      if (dim === 'build_id') for (const row of g.objects()) if (row.s > n) { n = row.s; best = row.build_id; }
    }
    return [DIMS.length, best, n];
  },
};

// --- hand-written JS over apache-arrow typed arrays --------------------------------
function q(sorted, p) {
  const pos = p * (sorted.length - 1), lo = Math.floor(pos), f = pos - lo;
  return f > 0 ? sorted[lo] + (sorted[lo + 1] - sorted[lo]) * f : sorted[lo];
}
const js = {
  name: 'JS loop (apache-arrow)',
  ingest() {
    return arrow.tableFromIPC(bytes);
  },
  heatmap(table) {
    const counts = new Uint32Array(TB * VB);
    let lo = Infinity, hi = -Infinity;
    const ts = table.getChild('timestamp').data, du = table.getChild('duration_ms').data;
    for (const d of du) for (const v of d.values) { if (v > 0 && v < lo) lo = v; if (v > hi) hi = v; }
    const scale = VB / Math.log(hi / lo);
    let total = 0;
    for (let b = 0; b < ts.length; b++) {
      const t = ts[b].values, v = du[b].values;
      for (let i = 0; i < v.length; i++) {
        const tb = Math.floor((Number(t[i]) - T0MS) / WMS);
        const x = v[i];
        const vb = x >= hi ? VB - 1 : Math.floor(Math.log(x / lo) * scale);
        counts[tb * VB + vb]++;
        total++;
      }
    }
    return total;
  },
  breakdown(table) {
    const groups = new Map();
    const cu = table.getChild('customer_id'), du = table.getChild('duration_ms');
    const n = table.numRows;
    for (let i = 0; i < n; i++) {
      const k = cu.get(i);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(du.get(i));
    }
    const rows = [];
    for (const [k, vs] of groups) {
      const s = Float64Array.from(vs).sort();
      let sum = 0;
      for (const v of s) sum += v;
      rows.push({ k, n: s.length, avg: sum / s.length, p50: q(s, 0.5), p95: q(s, 0.95), p99: q(s, 0.99) });
    }
    rows.sort((a, b) => b.p99 - a.p99 || (a.k < b.k ? -1 : 1));
    return rows.slice(0, 20).map((r) => r.k);
  },
  compare(table) {
    const ts = table.getChild('timestamp'), du = table.getChild('duration_ms');
    const n = table.numRows, sel = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const t = Number(ts.get(i));
      sel[i] = t >= SEL0 * 1000 && t < SEL1 * 1000 && du.get(i) >= 1000 ? 1 : 0;
    }
    let best = null, top = 0;
    for (const dim of DIMS) {
      const col = table.getChild(dim), counts = new Map();
      for (let i = 0; i < n; i++) {
        const k = col.get(i);
        let c = counts.get(k);
        if (!c) counts.set(k, (c = [0, 0]));
        c[sel[i] ? 0 : 1]++;
      }
      if (dim === 'build_id') for (const [k, c] of counts) if (c[0] > top) { top = c[0]; best = k; }
    }
    return [DIMS.length, best, top];
  },
};

// --- run ------------------------------------------------------------------------------
console.log(`${ROWS.toLocaleString('en-US')} demo rows (${(bytes.length / 1e6).toFixed(0)} MB Arrow IPC), median CPU ms of ${RUNS} runs after ${WARMUP} warm-up runs, Node ${process.version}`);
const results = [];
for (const eng of MODE === 'defaults' ? [] : [sightline, duck, psp, arq, js]) {
  const ing = await measure(() => eng.ingest(), eng.dispose);
  const state = ing.out;
  const heat = await measure(() => eng.heatmap(state));
  const brk = await measure(() => eng.breakdown(state));
  const cmp = await measure(() => eng.compare(state));
  results.push({
    name: eng.name, ingest: ing.cpu, heatmap: heat.cpu, breakdown: brk.cpu, compare: cmp.cpu,
    wall: [ing.wall, heat.wall, brk.wall, cmp.wall], total: heat.out, top: brk.out, cmp: cmp.out,
  });
}
const pad = (s, n) => String(s).padStart(n);
if (results.length) {
const base = results[0];
console.log(`${'engine'.padEnd(26)}${pad('ingest', 10)}${pad('heatmap', 10)}${pad('breakdown', 11)}${pad('compare', 10)}   ratio to Sightline (ingest / heatmap / breakdown / compare)`);
for (const r of results) {
  const ratio = (k) => (r[k] / base[k]).toFixed(1) + 'x';
  console.log(`${r.name.padEnd(26)}${pad(r.ingest.toFixed(0), 10)}${pad(r.heatmap.toFixed(0), 10)}${pad(r.breakdown.toFixed(0), 11)}${pad(r.compare.toFixed(0), 10)}   ${ratio('ingest')} / ${ratio('heatmap')} / ${ratio('breakdown')} / ${ratio('compare')}   (wall ms ${r.wall.map((x) => x.toFixed(0)).join(' / ')})`);
}
// The engines must agree, or the timing means nothing.
for (const r of results) {
  if (r.total !== ROWS) throw new Error(`${r.name}: heatmap counted ${r.total} of ${ROWS} rows`);
  if (r.name !== pspName && JSON.stringify([...r.top]) !== JSON.stringify([...base.top])) {
    throw new Error(`${r.name}: top 20 by P99 differs from Sightline's:\n${[...r.top]}\n${[...base.top]}`);
  }
  if (JSON.stringify(r.cmp) !== JSON.stringify(base.cmp)) {
    throw new Error(`${r.name}: compare disagrees (dimensions, top build, its selection count): ${r.cmp} vs ${base.cmp}`);
  }
}
console.log(`all engines counted every row, agree on the top 20 customers by P99 (${pspName}: by P50, it has no P99) and on the bad build's selection count`);
}

// --- defaults mode: the explorer's own specs ---------------------------------------------
// bench/defaults.mjs: the explorer's own specs.
const DEFAULTS = defaultViews(T0);
{
  const ds = sightline.ingest();
  const first = DEFAULTS.map(([, , f]) => {
    const t0 = performance.now();
    f(ds);
    return performance.now() - t0;
  });
  console.log(`\ndefaults mode: Sightline (wasm), the explorer's default specs at ${ROWS.toLocaleString('en-US')} rows; first run on a fresh load (wall ms) and median CPU ms of ${RUNS} runs after ${WARMUP}`);
  console.log(`${'view'.padEnd(36)}${pad('first', 8)}${pad('median', 9)}${pad('target', 9)}`);
  for (const [i, [name, target, f]] of DEFAULTS.entries()) {
    const m = await measure(() => f(ds));
    console.log(`${name.padEnd(36)}${pad(first[i].toFixed(1), 8)}${pad(m.cpu.toFixed(1), 9)}${pad('<= ' + target, 9)}${m.cpu <= target ? '' : '   over'}`);
  }
  ds.free();
}

// Scale in one Chromium tab: N demo events streamed from `sightline serve`'s
// /api/demo into the engine (in the page, `budgetBytes` set), then each of the
// explorer's default views (bench/defaults.mjs) timed: the first run and the median of
// `runs`. Reports ingest (wall, and the time inside push()), the dataset's bytes per row,
// the wasm memory's size (its peak: it never shrinks) and the peak JS heap, and the
// engine's instantiation (module fetched from the server, compiled, initialized).
//
//   node bench/scale.mjs [rows=5000000,20000000] [runs=5] [budget-bytes=3000000000]
//
// Needs `bash scripts/build.sh` (pkg/ and target/release/sightline).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, launch, ROOT } from '../tests/e2e/harness.mjs';

const sizes = (process.argv[2] ?? '5000000,20000000').split(',').map(Number);
const runs = Number(process.argv[3] ?? 5);
const budget = Number(process.argv[4] ?? 3e9);
const { child, url: served } = await startServer();
const url = served.replace(/\/$/, '');
const browser = await launch({ args: ['--enable-precise-memory-info'] });
const mb = (b) => (b / 2 ** 20).toFixed(0);
try {
  for (const rows of sizes) {
    // A fresh tab per size: the wasm memory of the last one is not reused.
    const page = await browser.newPage();
    page.on('console', (m) => m.type() === 'error' && console.error(m.text()));
    await page.route(`${url}/scale/**`, (route) => {
      const file = new URL(route.request().url()).pathname.replace('/scale/', '');
      const body = file === 'page.html' ? '<!doctype html><title>scale</title>' : readFileSync(path.join(ROOT, 'bench', path.basename(file)));
      route.fulfill({ body, contentType: file.endsWith('.html') ? 'text/html' : 'text/javascript' });
    });
    await page.goto(`${url}/scale/page.html`);
    const r = await page.evaluate(async ({ rows, runs, budget }) => {
      const i0 = performance.now();
      const engine = await import('/pkg/sightline.js');
      const wasm = await engine.default();
      const instantiate = performance.now() - i0;
      const { defaultViews } = await import('/scale/defaults.mjs');
      const heap = () => performance.memory.usedJSHeapSize;
      let peakHeap = heap();
      const ds = new engine.Dataset({ budgetBytes: budget });
      const t0 = performance.now();
      let inPush = 0, failure = null;
      const reader = (await fetch(`/api/demo?rows=${rows}`)).body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const t = performance.now();
        try {
          ds.push(value);
        } catch (e) {
          failure = String(e.message ?? e);
          await reader.cancel();
          break;
        }
        inPush += performance.now() - t;
        peakHeap = Math.max(peakHeap, heap());
      }
      if (!failure) ds.finish();
      const ingest = performance.now() - t0;
      const out = { instantiate, rows: ds.rowCount, ingest, inPush, failure, bytesPerRow: ds.memoryBytes / Math.max(1, ds.rowCount), views: [] };
      if (ds.rowCount > 0) {
        const t = ds.query({ calculations: [{ op: 'COUNT' }], disable_series: true }).start_time;
        for (const [name, , f] of defaultViews(t)) {
          let s = performance.now();
          try {
            f(ds);
          } catch (e) {
            out.views.push({ name, error: String(e.message ?? e) });
            continue;
          }
          const first = performance.now() - s;
          const times = [];
          for (let i = 0; i < runs; i++) {
            s = performance.now();
            f(ds);
            times.push(performance.now() - s);
            peakHeap = Math.max(peakHeap, heap());
          }
          times.sort((a, b) => a - b);
          out.views.push({ name, first, median: times[Math.floor(runs / 2)] });
        }
      }
      out.wasmBytes = wasm.memory.buffer.byteLength;
      out.peakHeap = peakHeap;
      return out;
    }, { rows, runs, budget });
    console.log(`\n${rows.toLocaleString('en-US')} demo events in one Chromium tab (budgetBytes ${budget.toLocaleString('en-US')}):`);
    if (r.failure) console.log(`  stopped at ${r.rows.toLocaleString('en-US')} rows: ${r.failure}`);
    console.log(`  instantiate (fetch, compile, init of the engine): ${r.instantiate.toFixed(0)} ms; then the first heatmap is the first view below`);
    console.log(`  ingest ${(r.ingest / 1000).toFixed(1)} s wall (server generating and streaming included), ${(r.inPush / 1000).toFixed(1)} s in push(); ${r.bytesPerRow.toFixed(0)} B/row`);
    console.log(`  memory: wasm ${mb(r.wasmBytes)} MiB + peak JS heap ${mb(r.peakHeap)} MiB = ${mb(r.wasmBytes + r.peakHeap)} MiB`);
    console.log(`  ${'view'.padEnd(36)}${'first ms'.padStart(10)}${'median ms'.padStart(11)}`);
    for (const v of r.views) {
      console.log(v.error ? `  ${v.name.padEnd(36)}  failed: ${v.error}` : `  ${v.name.padEnd(36)}${v.first.toFixed(0).padStart(10)}${v.median.toFixed(0).padStart(11)}`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  child.kill('SIGTERM');
}

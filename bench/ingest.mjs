// Ingest throughput of the wasm build in Node: the demo generator's events (1M rows by
// default), pushed in 64 KiB chunks as fetch would deliver them. Prints the median of
// several runs (wall and CPU ms) for uncompressed, LZ4 and ZSTD streams, and the
// uncompressed stream with its strings as dictionaries (LowCardinality) and as Utf8View
// (bench/encodings.py, pyarrow); beside each, one plain copy of the same bytes into
// fresh memory in this process (the floor any ingest is measured against), the ratio,
// and the dataset's memory per row (`memoryBytes / rowCount`).
//
//   node bench/ingest.mjs [rows=1000000] [runs=7]
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, Dataset } from '../pkg/sightline.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });
const rows = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.argv[3] ?? 7);
const dir = join(root, 'tests', 'out', 'bench');
mkdirSync(dir, { recursive: true });

function data(compression) {
  const path = join(dir, `demo-${rows}-${compression}.arrow`);
  if (compression === 'dict' || compression === 'view') {
    if (!existsSync(path)) {
      data('none');
      execFileSync('python3', [join(root, 'bench', 'encodings.py'), join(dir, `demo-${rows}-none.arrow`),
        join(dir, `demo-${rows}-dict.arrow`), join(dir, `demo-${rows}-view.arrow`)]);
    }
    return new Uint8Array(readFileSync(path));
  }
  if (!existsSync(path)) {
    execFileSync(join(root, 'target', 'release', 'sightline'),
      ['demo', '--rows', String(rows), '--compression', compression, '--out', path]);
  }
  return new Uint8Array(readFileSync(path));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`ingest, ${rows} demo rows, 64 KiB chunks, median of ${runs} runs (Node ${process.version})`);
console.log('stream        MB      wall ms   cpu ms   MB/s    Mrows/s   copy ms   ratio   bytes/row');
for (const compression of ['none', 'lz4', 'zstd', 'dict', 'view']) {
  const bytes = data(compression);
  const wall = [], cpu = [], copy = [];
  let perRow = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const fresh = new Uint8Array(bytes.length);
    fresh.set(bytes);
    copy.push(performance.now() - t0);
    if (fresh[bytes.length - 1] !== bytes[bytes.length - 1]) throw new Error('copy');
  }
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const ds = new Dataset();
    for (let at = 0; at < bytes.length; at += 65536) ds.push(bytes.subarray(at, at + 65536));
    ds.finish();
    const t = performance.now() - t0, c = process.cpuUsage(c0);
    if (ds.rowCount !== rows) throw new Error(`loaded ${ds.rowCount} rows, expected ${rows}`);
    perRow = ds.memoryBytes / rows;
    ds.free();
    wall.push(t);
    cpu.push((c.user + c.system) / 1000);
  }
  const mb = bytes.length / 1e6, w = median(wall);
  const cp = median(copy);
  console.log(`${compression.padEnd(12)} ${mb.toFixed(1).padStart(5)} ${w.toFixed(0).padStart(10)} ${median(cpu).toFixed(0).padStart(8)} ${(mb / (w / 1000)).toFixed(0).padStart(6)} ${(rows / 1e6 / (w / 1000)).toFixed(2).padStart(9)} ${cp.toFixed(1).padStart(9)} ${(w / cp).toFixed(1).padStart(6)}x ${perRow.toFixed(1).padStart(10)}`);
}

// Drawing: the heatmap rasterized by plotters' bitmap backend (what the component
// transfers to the page and blits with one putImageData), at the demo's size.
{
  const ds = new Dataset();
  ds.push(data('none'));
  ds.finish();
  for (const [w, h, dpr] of [[1158, 440, 1], [1158, 440, 2]]) {
    const ms = [];
    for (let r = 0; r < runs + 2; r++) {
      const t0 = performance.now();
      const out = ds.renderHeatmap({ column: 'duration_ms' }, { width: w, height: h, dpr });
      ms.push(performance.now() - t0);
      if (out.rgba.length !== out.width * out.height * 4) throw new Error('bad bitmap');
    }
    console.log(`renderHeatmap ${w}x${h} CSS px at dpr ${dpr} (heatmap of ${rows} rows + raster): ${median(ms.slice(2)).toFixed(1)} ms median`);
  }
  ds.free();
}

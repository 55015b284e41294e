// The server's POST /api/query and /api/compare against the wasm engine: the release
// `sightline serve` runs each spec of tests/fixtures/run_specs.json over its demo
// source; the wasm Dataset runs it over the same rows fetched from /api/demo. The two
// answers must be the same JSON (heatmap typed arrays as arrays; the comparison's
// statistics within 1e-9 relative).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, Dataset } from '../../pkg/sightline.js';
import { RemoteDataset, RemoteError } from '../../www/engine/remote.js';
import { startServer } from '../e2e/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });
const specs = JSON.parse(readFileSync(join(root, 'tests', 'fixtures', 'run_specs.json'), 'utf8'));
const ROWS = 20000;

const { child: server, url } = await startServer(['--rows', String(ROWS)]);
after(() => server.kill('SIGTERM'));
const base = url.replace(/\/$/, '');

const ds = new Dataset();
ds.push(new Uint8Array(await (await fetch(`${base}/api/demo?rows=${ROWS}`)).arrayBuffer()));
ds.finish();
const plain = (v) => JSON.parse(JSON.stringify(v, (_, x) => (ArrayBuffer.isView(x) ? Array.from(x) : x)));

/** Equal JSON, except that non-integer numbers may differ by 1e-9 relative (the
 * statistics call exp/ln/erfc, whose last bits differ between the server's libm and
 * wasm's); throws naming the first differing path. Counts and integers are exact. */
function same(a, b, path = '$') {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a === b) return;
    const exact = Number.isInteger(a) && Number.isInteger(b);
    if (!exact && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))) return;
    throw new Error(`${path}: server ${a}, wasm ${b}`);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw new Error(`${path}: lengths differ`);
    a.forEach((x, i) => same(x, b[i], `${path}[${i}]`));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    assert.deepStrictEqual(ka, kb, `${path}: keys differ`);
    for (const k of ka) same(a[k], b[k], `${path}.${k}`);
    return;
  }
  if (a !== b) throw new Error(`${path}: server ${JSON.stringify(a)}, wasm ${JSON.stringify(b)}`);
}

async function post(path, spec) {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify({ source: 'demo', spec }) });
  assert.equal(res.status, 200, `${path} ${JSON.stringify(spec)}: ${await res.clone().text()}`);
  return res.json();
}

test('POST /api/query returns what Dataset.query returns', async () => {
  assert.equal(ds.rowCount, ROWS);
  for (const spec of specs.queries) {
    // Queries are exact: the same bits (bucket edges use libm on both sides).
    assert.deepStrictEqual(await post('/api/query', spec), plain(ds.query(spec)), JSON.stringify(spec));
  }
});

test('POST /api/compare returns what Dataset.compare returns', async () => {
  for (const spec of specs.compares) {
    const got = await post('/api/compare', spec);
    try {
      same(got, plain(ds.compare(spec)));
    } catch (e) {
      throw new Error(`${JSON.stringify(spec)}: ${e.message}`);
    }
  }
});

test('a bad spec gets the engine\'s error, naming the column', async () => {
  const spec = { calculations: [{ op: 'P99', column: 'endpoint' }] };
  const res = await fetch(`${base}/api/query`, { method: 'POST', body: JSON.stringify({ spec }) });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.column, 'endpoint');
  assert.equal(body.kind, 'operator');
  assert.equal(body.operator, 'P99');
  // Dataset throws the same error, with the same fields (EngineError) on the Error.
  assert.throws(() => ds.query(spec), (e) => e.message === body.error && e.kind === body.kind && e.column === body.column && e.operator === body.operator);
  assert.throws(() => ds.query({ calculations: [{ op: 'COUNT' }], breakdowns: ['nope'] }), (e) => e.kind === 'unknown_column' && e.column === 'nope');
  assert.throws(() => ds.query({ calculation: [] }), (e) => e.kind === 'spec' && /unknown field `calculation`/.test(e.message));
});

test('RemoteDataset: the same answers as Dataset, typed arrays included, and typed errors', async () => {
  const remote = new RemoteDataset('demo', { baseUrl: `${base}/` });
  const spec = specs.queries.find((q) => q.calculations.some((c) => c.op === 'HEATMAP'));
  const r = await remote.query(spec);
  assert.ok(r.heatmaps[0].counts instanceof Uint32Array && r.heatmaps[0].low instanceof Uint32Array);
  assert.deepStrictEqual(plain(r), plain(ds.query(spec)));
  // A BigInt in a spec is sent as its decimal string, as Dataset takes it.
  const big = { calculations: [{ op: 'COUNT' }], filters: [{ column: 'response_bytes', op: '<', value: 2n ** 60n }] };
  assert.deepStrictEqual(plain(await remote.query(big)), plain(ds.query(big)));
  const c = await remote.compare(specs.compares[1]);
  assert.equal(c.selection_count, ds.compare(specs.compares[1]).selection_count);
  await assert.rejects(remote.query({ calculations: [{ op: 'P99', column: 'nope' }] }),
    (e) => e instanceof RemoteError && e.status === 400 && e.kind === 'unknown_column' && e.column === 'nope' && /unknown column "nope"/.test(e.message));
  await assert.rejects(new RemoteDataset('missing', { baseUrl: base }).query({}),
    (e) => e instanceof RemoteError && e.parameter === 'source');
});

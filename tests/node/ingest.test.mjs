// pkg/sightline.js (the wasm build) loaded in Node with initSync, fed streams written
// by pyarrow and by Arrow C++ (../shared/arrow-testing), in odd-sized chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { initSync, Dataset } from '../../pkg/sightline.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });

const fixtures = join(root, 'tests', 'out', 'fixtures');
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8'));

function pushOdd(ds, bytes, sizes = [1, 5, 13, 4093, 65537, 999]) {
  let at = 0, k = 0;
  while (at < bytes.length) {
    const n = Math.min(sizes[k++ % sizes.length], bytes.length - at);
    ds.push(bytes.subarray(at, at + n));
    at += n;
  }
  ds.finish();
}

for (const [file, want] of Object.entries(manifest)) {
  test(`pyarrow ${file}: exact rows, nulls and distinct strings`, () => {
    const ds = new Dataset();
    pushOdd(ds, new Uint8Array(readFileSync(join(fixtures, file))));
    assert.equal(ds.rowCount, want.rows);
    const schema = new Map(ds.schema().map((f) => [f.name, f]));
    for (const [name, c] of Object.entries(want.columns)) {
      const f = schema.get(name);
      assert.ok(f, `column ${name} missing`);
      if (f.role === 'other') {
        assert.match(f.note, /kept out of analysis/, `${name} must say why it is not analyzed`);
        continue;
      }
      assert.equal(f.nulls, c.nulls, `${file} ${name} nulls`);
      if (c.distinct !== undefined) assert.equal(f.distinct, c.distinct, `${file} ${name} distinct`);
    }
    ds.free();
  });
}

test('pyarrow stream roles and metadata', () => {
  const ds = new Dataset();
  pushOdd(ds, new Uint8Array(readFileSync(join(fixtures, 'zstd.arrow'))));
  const roles = Object.fromEntries(ds.schema().map((f) => [f.name, f.role]));
  assert.deepEqual(
    [roles.ts_ms_tz, roles.i64, roles.u64, roles.f32, roles.flag, roles.name_view, roles.dict_u16, roles.listcol],
    ['time', 'number', 'number', 'number', 'bool', 'string', 'string', 'other'],
  );
  assert.equal(ds.metadata().source, 'pyarrow');
  ds.free();
});

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

test('arrow-testing streams: exact row counts, or an error naming a column', () => {
  const dir = join(root, '..', 'shared', 'arrow-testing');
  let loaded = 0;
  for (const path of walk(dir).filter((p) => p.endsWith('.stream'))) {
    const json = JSON.parse(gunzipSync(readFileSync(path.replace(/\.stream$/, '.json.gz'))).toString());
    const rows = json.batches.reduce((s, b) => s + b.count, 0);
    const ds = new Dataset();
    try {
      pushOdd(ds, new Uint8Array(readFileSync(path)), [3, 1021, 77]);
      assert.equal(ds.rowCount, rows, path);
      loaded++;
    } catch (e) {
      assert.ok(e instanceof Error && !(e instanceof WebAssembly.RuntimeError), `${path}: ${e}`);
      const names = json.schema.fields.map((f) => f.name);
      assert.ok(names.some((n) => e.message.includes(`"${n}"`)), `${path}: error must name a column: ${e.message}`);
    } finally {
      ds.free();
    }
  }
  assert.ok(loaded >= 30, `only ${loaded} streams loaded`);
});

test('hostile bytes throw Error, never trap, and keep loaded rows', () => {
  const good = new Uint8Array(readFileSync(join(fixtures, 'plain.arrow')));
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 200; round++) {
    const bytes = good.slice(0, 200_000);
    for (let k = 0; k < 1 + (round % 8); k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    const ds = new Dataset();
    let last = 0;
    try {
      pushOdd(ds, bytes, [1 + (round % 97), 8191]);
    } catch (e) {
      assert.ok(e instanceof Error, String(e));
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `trap in round ${round}: ${e.message}`);
      last = ds.rowCount;
      assert.ok(ds.schema().length >= 0);
    }
    assert.ok(ds.rowCount >= last);
    ds.free();
  }
  const ds = new Dataset();
  assert.throws(() => { ds.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])); }, /at byte 0: message metadata length/);
  // Pushing more into the failed stream is a state error.
  assert.throws(() => { ds.push(new Uint8Array(8)); }, (e) => e.kind === 'state' && /already failed/.test(e.message));
  ds.free();
  // The thrown Error carries the engine's error as data (EngineError): kind and offset.
  const fresh = new Dataset();
  assert.throws(() => { fresh.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])); }, (e) => e instanceof Error && e.kind === 'ingest' && e.offset === 0);
  fresh.free();
});

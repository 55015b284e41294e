// The wasm module never traps on memory: datasets created without free() until the
// module's memory is full fail with a clear error; after free() it loads again. One
// dataset with a budget above the module's memory fails the same way, keeping its rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, Dataset } from '../../pkg/sightline.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });
// 300,000 demo events as Arrow IPC, from the native `sightline demo`.
const bytes = new Uint8Array(
  execFileSync(join(root, 'target', 'release', 'sightline'), ['demo', '--rows', '300000'], { maxBuffer: 1 << 30 }),
);

function load(ds) {
  for (let at = 0; at < bytes.length; at += 1 << 20) ds.push(bytes.subarray(at, Math.min(at + (1 << 20), bytes.length)));
  ds.finish();
}

test('datasets past the module memory fail with an error, and free() makes room again', () => {
  const held = [];
  let error = null;
  for (let k = 0; k < 1000 && !error; k++) {
    const ds = new Dataset();
    try {
      load(ds);
      held.push(ds);
    } catch (e) {
      error = e;
      // What was loaded before the failure is still there and queryable.
      assert.ok(ds.rowCount < 300_000);
      assert.equal(ds.query({}).results[0].COUNT, ds.rowCount);
      ds.free();
    }
  }
  assert.ok(error, `no error after ${held.length} datasets`);
  assert.match(error.message, /out of memory at byte \d+: .*free\(\) datasets/);
  assert.ok(held.length >= 20, `only ${held.length} datasets fitted`);
  // Every dataset still answers (the module is alive).
  assert.equal(held[0].query({}).results[0].COUNT, 300_000);
  assert.equal(held.at(-1).query({}).results[0].COUNT, 300_000);
  for (const ds of held) ds.free();
  const again = new Dataset();
  load(again);
  assert.equal(again.rowCount, 300_000);
  again.free();
  console.log(`${held.length} datasets of 300,000 rows fitted; then: ${error.message.slice(0, 160)}`);
});

test('one dataset growing past the module memory fails with an error and keeps its rows', () => {
  const ds = new Dataset({ budgetBytes: 64 * 2 ** 30 });
  let error = null;
  for (let k = 0; k < 1000 && !error; k++) {
    try {
      load(ds);
    } catch (e) {
      error = e;
    }
  }
  assert.ok(error);
  assert.match(error.message, /out of memory|memory budget/);
  const rows = ds.rowCount;
  assert.ok(rows >= 3_000_000, `${rows}`);
  assert.equal(ds.query({}).results[0].COUNT, rows);
  ds.free();
  const again = new Dataset();
  load(again);
  assert.equal(again.rowCount, 300_000);
  again.free();
  console.log(`one dataset held ${rows} rows; then: ${error.message.slice(0, 160)}`);
});

// 64-bit IDs through the wasm API: a BigInt or a decimal string in a spec is an exact
// integer; values beyond 2^53 come back as decimal strings, never rounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { initSync, Dataset } from '../../pkg/sightline.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sightline_bg.wasm')) });

test('int64 and uint64 above 2^53 stay exact in filters, breakdowns and events', () => {
  const p53 = 2n ** 53n;
  const table = tableFromArrays({
    id: new BigInt64Array([p53, p53 + 1n, p53 + 1n, 7n]),
    uid: new BigUint64Array([2n ** 64n - 1n, 2n ** 64n - 2n, 2n ** 64n - 2n, 0n]),
  });
  const ds = new Dataset();
  ds.push(tableToIPC(table, 'stream'));
  ds.finish();
  const count = (filters) => ds.query({ filters }).results[0].COUNT;
  assert.equal(count([{ column: 'id', op: '=', value: p53 + 1n }]), 2); // a BigInt
  assert.equal(count([{ column: 'id', op: '=', value: '9007199254740993' }]), 2); // a string
  assert.equal(count([{ column: 'id', op: '=', value: p53 }]), 1);
  assert.equal(count([{ column: 'uid', op: 'in', value: [2n ** 64n - 1n] }]), 1);
  const groups = ds.query({ breakdowns: ['id'], orders: [{ column: 'id' }] }).results;
  assert.deepEqual(groups.map((r) => r.id), [7, '9007199254740992', '9007199254740993']);
  const ev = ds.events({ columns: ['id', 'uid'], order: 'oldest' });
  assert.deepEqual(ev.rows[1], ['9007199254740993', '18446744073709551614']);
  assert.deepEqual(ev.rows[3], [7, 0]);
  ds.free();
});

// www/engine/worker.js (and host.js) itself (the protocol the page talks to), run in Node on the built pkg/:
// `self` is a stand-in that delivers messages and collects answers, and fetch reads the
// wasm from the file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TimestampMillisecond, Utf8, Float64, Table, tableToIPC, vectorFromArray } from 'apache-arrow';

const networkFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = input instanceof URL ? input : new URL(String(input));
  if (url.protocol !== 'file:') return networkFetch(input, init);
  return new Response(readFileSync(url), { headers: { 'Content-Type': 'application/wasm' } });
};
const listeners = [];
const waiting = new Map();
globalThis.self = {
  addEventListener(type, fn) {
    if (type === 'message') listeners.push(fn);
  },
  postMessage(message) {
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  },
};
await import('../../www/engine/worker.js');

let seq = 0;
function request(type, args = {}) {
  seq += 1;
  const id = seq;
  return new Promise((resolve, reject) => {
    waiting.set(id, (m) => (m.error ? reject(Object.assign(new Error(m.error), m.fields)) : resolve(m.result)));
    for (const fn of listeners) fn({ data: { id, type, ...args } });
  });
}

const T0 = 1_800_000_000; // a whole minute
const MINUTE = 60;

/** Host `a` has events in minutes 0, 1, 3, 4 (none in minute 2); host `b` in every minute. */
function events() {
  const rows = [];
  let bytes = 0;
  for (const [host, minutes] of [['a', [0, 1, 3, 4]], ['b', [0, 1, 2, 3, 4]]]) {
    for (const m of minutes) {
      for (let k = 0; k < 3; k += 1) {
        bytes += 100 + k;
        rows.push({ t: (T0 + m * MINUTE + k * 10) * 1000, host, user: `u${k}`, bytes });
      }
    }
  }
  return new Table({
    timestamp: vectorFromArray(rows.map((r) => r.t), new TimestampMillisecond()),
    host: vectorFromArray(rows.map((r) => r.host), new Utf8()),
    user: vectorFromArray(rows.map((r) => r.user), new Utf8()),
    bytes: vectorFromArray(rows.map((r) => r.bytes), new Float64()),
  });
}

test('breakdown lines: empty buckets are zero for additive calculations and gaps for rates and averages', async () => {
  await request('reset', {});
  const bytes = tableToIPC(events(), 'stream');
  await request('push', { bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  await request('finish');
  const spec = {
    calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'bytes' }, { op: 'RATE_SUM', column: 'bytes' }, { op: 'RATE_MAX', column: 'bytes' }, { op: 'AVG', column: 'bytes' }, { op: 'CONCURRENCY', column: 'bytes' }],
    breakdowns: ['host'],
    start_time: T0,
    end_time: T0 + 5 * MINUTE,
    granularity: MINUTE,
  };
  const { result, charts } = await request('breakdown', { spec, lines: { max: 10, options: { width: 400, height: 200, dpr: 1 } } });
  assert.equal(result.matched, 27);
  assert.deepEqual(result.series, [], 'the page never receives the series');
  const line = (name, host) => {
    const chart = charts.find((c) => c.name === name);
    assert.ok(chart, `no chart ${name}: ${charts.map((c) => c.name)}`);
    assert.ok(chart.render, `${name} was not drawn: ${chart.error}`);
    return chart.series.find((s) => s.name === host).values;
  };
  assert.deepEqual(line('COUNT', 'a'), [3, 3, 0, 3, 3]);
  assert.deepEqual(line('COUNT', 'b'), [3, 3, 3, 3, 3]);
  assert.equal(line('SUM(bytes)', 'a')[2], 0);
  assert.equal(line('CONCURRENCY(bytes)', 'a')[2], 0);
  // A rate is the change since the previous non-empty bucket: none in the first bucket,
  // none in the empty one, and minute 3 carries the change since minute 1.
  const rate = line('RATE_SUM(bytes)', 'a');
  assert.equal(rate[0], null);
  assert.equal(rate[2], null, 'an empty bucket has no rate (it was drawn as 0)');
  assert.ok(rate[1] > 0 && rate[3] > 0 && rate[4] > 0, JSON.stringify(rate));
  assert.equal(line('RATE_MAX(bytes)', 'a')[2], null);
  assert.equal(line('AVG(bytes)', 'a')[2], null);
});

test('an engine error fails one request, not the worker', async () => {
  await assert.rejects(request('query', { spec: { calculations: [{ op: 'RATE_COUNT', column: 'bytes' }] } }), /RATE_COUNT/);
  // What the engine names crosses to the page with the message.
  await assert.rejects(request('query', { spec: { calculations: [{ op: 'P99', column: 'nope' }] } }), (e) => e.kind === 'unknown_column' && e.column === 'nope');
  const r = await request('query', { spec: { calculations: [{ op: 'COUNT' }] } });
  assert.equal(r.results[0].COUNT, 27);
});

// The columns elements use when the page names none come from the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultColumns } from '../../www/shared/columns.js';

const f = (name, role, type = role === 'number' ? 'Float64' : role === 'time' ? 'Timestamp(Millisecond, None)' : 'Utf8') => ({ name, role, type, nulls: 0 });

test('the demo schema: duration_ms, timestamp, customer_id', () => {
  const schema = [f('timestamp', 'time'), f('status', 'number', 'Int32'), f('endpoint', 'string'), f('customer_id', 'string'), f('bytes', 'number', 'Int64'), f('duration_ms', 'number')];
  assert.deepEqual(defaultColumns(schema), { value: 'duration_ms', time: 'timestamp', customer: 'customer_id' });
});

test('OpenTelemetry names: a dotted duration, a tenant', () => {
  const schema = [f('time', 'time'), f('http.status_code', 'number', 'Int64'), f('app.tenant_id', 'string'), f('http.server.duration', 'number')];
  assert.deepEqual(defaultColumns(schema), { value: 'http.server.duration', time: 'time', customer: 'app.tenant_id' });
});

test('no latency-like name: the first floating-point column, then any number', () => {
  assert.equal(defaultColumns([f('code', 'number', 'Int32'), f('score', 'number', 'Float32')]).value, 'score');
  assert.equal(defaultColumns([f('code', 'number', 'Int32'), f('name', 'string')]).value, 'code');
});

test('nothing fits: nulls, and names that only contain a keyword do not count', () => {
  assert.deepEqual(defaultColumns([f('name', 'string'), f('accounting_note', 'string')]), { value: null, time: null, customer: null });
  assert.equal(defaultColumns([f('msg', 'string'), f('items', 'number', 'Int32')]).customer, null);
});

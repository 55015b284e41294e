// The parts' attribute text for calculations, orders and havings, read into the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calcName, parseCalcs, parseHavings, parseOrders } from '../../www/shared/spec-text.js';
import { CALCULATION_OPS } from '../../www/engine/spec.js';

test('calculations: OP and OP(column), commas inside quotes kept', () => {
  assert.deepEqual(parseCalcs('COUNT, p99(duration_ms), AVG("a, b")'), [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }, { op: 'AVG', column: 'a, b' }]);
  assert.equal(calcName({ op: 'P99', column: 'duration_ms' }), 'P99(duration_ms)');
  assert.throws(() => parseCalcs('P99 duration'), /cannot read the calculation "P99 duration"/);
});

test('orders: a calculation, an operator the engine knows, else a breakdown column; ascending by default', () => {
  assert.deepEqual(parseOrders('P99(duration_ms) desc, COUNT, build asc, count descending, customer id', CALCULATION_OPS), [
    { op: 'P99', column: 'duration_ms', order: 'descending' },
    { op: 'COUNT', order: 'ascending' },
    { column: 'build', order: 'ascending' },
    { column: 'count', order: 'descending' }, // a column named count, not the operator
    { column: 'customer id', order: 'ascending' },
  ]);
  assert.deepEqual(parseOrders('', CALCULATION_OPS), []);
  // A lone word is a column, even one called desc.
  assert.deepEqual(parseOrders('desc', CALCULATION_OPS), [{ column: 'desc', order: 'ascending' }]);
});

test('havings: CALCULATION OP NUMBER', () => {
  assert.deepEqual(parseHavings('COUNT > 10, P99(duration_ms) >= 500.5, AVG(x)<-1e3, MAX(y) != 0'), [
    { calculate_op: 'COUNT', op: '>', value: 10 },
    { calculate_op: 'P99', column: 'duration_ms', op: '>=', value: 500.5 },
    { calculate_op: 'AVG', column: 'x', op: '<', value: -1000 },
    { calculate_op: 'MAX', column: 'y', op: '!=', value: 0 },
  ]);
  assert.throws(() => parseHavings('COUNT >> 1'), /cannot read the having "COUNT >> 1"/);
  assert.throws(() => parseHavings('COUNT > many'), /cannot read the having/);
});

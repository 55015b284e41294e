// www/shared/ui.js formatValue writes values with units exactly as the engine's chart labels do
// (src/render.rs format_value), so that tooltips and statuses agree with the axes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact, fixed, formatValue } from '../../www/shared/ui.js';

test('the cases of render.rs\'s own unit test', () => {
  assert.equal(formatValue(1500, 'ms'), '1.5s');
  assert.equal(formatValue(20, 'ms'), '20ms');
  assert.equal(formatValue(0.5, 'ms'), '0.5ms');
  assert.equal(formatValue(12_000), '12k');
  assert.equal(formatValue(12_000, undefined), '12k');
  assert.equal(formatValue(12_000, ''), '12k', 'an empty unit is no unit');
});

// [value, no unit, 'ms', 'B']: the output of render.rs's format_value, copied verbatim into
// a program compiled with rustc 1.95.0 and run on these values (ties to even: 0.0625 ->
// 0.062, 1250 -> 1.2k; negative zero keeps its sign; no exponent; NaN and inf as Rust
// writes them).
const RUST = [
  [1.5e3, "1.5k", "1.5s", "1.5kB"],
  [2e1, "20", "20ms", "20B"],
  [5e-1, "0.5", "0.5ms", "0.5B"],
  [1.2e4, "12k", "12s", "12kB"],
  [0e0, "0", "0ms", "0B"],
  [-0e0, "-0", "-0ms", "-0B"],
  [2.5e-1, "0.25", "0.25ms", "0.25B"],
  [7.5e-1, "0.75", "0.75ms", "0.75B"],
  [2.25e0, "2.2", "2.2ms", "2.2B"],
  [2.5e0, "2.5", "2.5ms", "2.5B"],
  [6.25e-2, "0.062", "0.062ms", "0.062B"],
  [1.875e-1, "0.188", "0.188ms", "0.188B"],
  [-6.25e-2, "-0.062", "-0.062ms", "-0.062B"],
  [1.25e3, "1.2k", "1.2s", "1.2kB"],
  [1.35e3, "1.4k", "1.4s", "1.4kB"],
  [2.25e3, "2.2k", "2.2s", "2.2kB"],
  [9.9995e2, "1000", "1000ms", "1000B"],
  [9.9999e2, "1000", "1000ms", "1000B"],
  [1e-7, "0", "0ms", "0B"],
  [-1e-7, "-0", "-0ms", "-0B"],
  [-1e-2, "-0.01", "-0.01ms", "-0.01B"],
  [1.23456e5, "123.5k", "123.5s", "123.5kB"],
  [9.99999e5, "1000k", "1000s", "1000kB"],
  [1e21, "1000000000000G", "1000000000000000000s", "1000000000000GB"],
  [1e25, "10000000000000000G", "10000000000000000000000s", "10000000000000000GB"],
  [3.5e30, "3500000000000000000000G", "3500000000000000183945396224s", "3500000000000000000000GB"],
  [-2.5e0, "-2.5", "-2.5ms", "-2.5B"],
  [1.05e0, "1.1", "1.1ms", "1.1B"],
  [5e-4, "0.001", "0.001ms", "0.001B"],
  [1.5e-3, "0.002", "0.002ms", "0.002B"],
  [2.5e-3, "0.003", "0.003ms", "0.003B"],
  [1.225e1, "12.2", "12.2ms", "12.2B"],
  [1e300, "1000000000000000096350143920374114471941312455251843583129231209642073450717704585714640048901985187209719740304992727175727058132438746816615645013237871654793913513638826934129377152896934732354722602044746013300944590451431923562399193436133392135634504915915015573579289946925483474026496G", "1000000000000000017652801462756379714374878780719864776839443139119744823869255243069012222883470359078822072829219411228534934402712624705615450492327979456500795456339201761949451160807447294527656222743617592048849967890105831362861792425329827928397252374398383022243308510390698430058459037696s", "1000000000000000096350143920374114471941312455251843583129231209642073450717704585714640048901985187209719740304992727175727058132438746816615645013237871654793913513638826934129377152896934732354722602044746013300944590451431923562399193436133392135634504915915015573579289946925483474026496GB"],
  [5e-324, "0", "0ms", "0B"],
  [2.5e9, "2.5G", "2500000s", "2.5GB"],
  [1.25e6, "1.2M", "1250s", "1.2MB"],
  [3e-1, "0.3", "0.3ms", "0.3B"],
  [3.0000000000000004e-1, "0.3", "0.3ms", "0.3B"],
  [7e0, "7", "7ms", "7B"],
  [1.0235e3, "1k", "1s", "1kB"],
  [NaN, "NaN", "NaNms", "NaNB"],
  [Infinity, "infG", "infs", "infGB"],
  [-Infinity, "-infG", "-infs", "-infGB"],
  [9.995e1, "100", "100ms", "100B"],
  [9.95e0, "9.9", "9.9ms", "9.9B"],
  [9.995e-1, "1", "1ms", "1B"],
  [4.35e0, "4.3", "4.3ms", "4.3B"],
  [1.0000000000000005e15, "1000000G", "1000000000000s", "1000000GB"],
  [2.62144e5, "262.1k", "262.1s", "262.1kB"],
];

test('every value and unit as the engine writes it', () => {
  for (const [v, none, ms, bytes] of RUST) {
    assert.equal(formatValue(v), none, `${v}`);
    assert.equal(formatValue(v, 'ms'), ms, `${v} ms`);
    assert.equal(formatValue(v, 'B'), bytes, `${v} B`);
    assert.equal(compact(v), none, `compact ${v}`);
  }
});

test('fixed is Rust\'s {:.N}: exact binary value, ties to even, where toFixed rounds half up', () => {
  assert.equal(fixed(0.25, 1), '0.2');
  assert.equal((0.25).toFixed(1), '0.3');
  assert.equal(fixed(0.75, 1), '0.8');
  assert.equal(fixed(0.35, 1), '0.3', '0.35 is 0.34999... in binary');
  assert.equal(fixed(2.5, 0), '2');
  assert.equal(fixed(3.5, 0), '4');
  assert.equal(fixed(-0.0625, 3), '-0.062');
  assert.equal(fixed(-0, 1), '-0.0');
  assert.equal(fixed(-0.01, 1), '-0.0');
  assert.equal(fixed(1e21, 1), '1000000000000000000000.0');
  assert.equal(fixed(5e-324, 3), '0.000');
  assert.equal(fixed(123.456, 0), '123');
});

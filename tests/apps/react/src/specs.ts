// What a consumer writes against the package's types (generated from the engine's Rust
// types): valid specifications compile, and a typo must not (`tsc --noEmit --strict`
// fails on an unused @ts-expect-error).
import type { CompareSpec, QueryResult, QuerySpec } from 'sightline';

export const byEndpoint: QuerySpec = {
  calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
  filters: [{ column: 'endpoint', op: 'starts-with', value: '/check' }],
  breakdowns: ['endpoint'],
  orders: [{ op: 'P99', column: 'duration_ms', order: 'descending' }],
  havings: [{ calculate_op: 'COUNT', op: '>', value: 10 }],
  time_range: 3600,
};

export const slow: CompareSpec = { selection: { filters: [{ column: 'duration_ms', op: '>=', value: 500 }] } };

export function p99(r: QueryResult): number | null {
  const v = r.results[0]?.['P99(duration_ms)'];
  return typeof v === 'number' ? v : null;
}

// @ts-expect-error: P98 is not an operator the engine knows.
export const typo: QuerySpec = { calculations: [{ op: 'P98', column: 'duration_ms' }] };

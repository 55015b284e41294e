// Which columns an element uses when the page does not name them: chosen from the
// schema of the data it shows, never from the demo's column names.

/** A latency-like name: `duration_ms`, `latency`, `http.server.duration`, `took_us`. */
const VALUE = /(^|[._-])(duration|latency|elapsed|response[._-]?time|took|time[._-]?taken)([._-]|$)|[._-](ms|us|ns|micros|millis|seconds|secs)$/i;
/** A customer-like name: `customer_id`, `app.tenant_id`, `account`, `org.name`. */
const CUSTOMER = /(^|[._-])(customer|tenant|account|org|organization|team|workspace)([._-]?(id|name|slug))?$/i;

/**
 * `{ value, time, customer }` for a schema (`Dataset.schema()`): the value a heatmap
 * draws (a latency-like number column, else the first floating-point one, else the
 * first number), the time column (the first one; the engine's own default), and a
 * customer-like string column. Each is `null` when the schema has none.
 * @param {Array<{ name: string, type: string, role: string }>} schema
 */
export function defaultColumns(schema) {
  const numbers = schema.filter((f) => f.role === 'number');
  const value = numbers.find((f) => VALUE.test(f.name)) ?? numbers.find((f) => /^Float/.test(f.type)) ?? numbers[0];
  return {
    value: value?.name ?? null,
    time: schema.find((f) => f.role === 'time')?.name ?? null,
    customer: schema.find((f) => f.role === 'string' && CUSTOMER.test(f.name))?.name ?? null,
  };
}

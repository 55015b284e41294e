// The query specification written as attribute text, for the parts' attributes:
// `calculations="COUNT, P99(duration_ms)"`, `orders="P99(duration_ms) desc, endpoint"`,
// `havings="COUNT > 10"`. Parsed here into the JSON the engine takes; the engine checks
// the operators and columns and names what is wrong.

/** A calculation's result name, as the engine writes it: `COUNT`, `P99(duration_ms)`. */
export function calcName(c) {
  return c.column ? `${c.op}(${c.column})` : c.op;
}

/** Splits on commas outside parentheses and quotes: `P99(a,b), COUNT` → two items. */
function items(text) {
  const out = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of String(text ?? '')) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') depth += 1;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

const CALC = /^([A-Za-z][A-Za-z0-9_]*)\s*(?:\(\s*(.*?)\s*\))?$/;

/** `OP` or `OP(column)` → `{ op, column? }`, or null when the text is not of that shape. */
function calc(text) {
  const m = text.match(CALC);
  if (!m) return null;
  return m[2] ? { op: m[1].toUpperCase(), column: unquote(m[2]) } : { op: m[1].toUpperCase() };
}

function unquote(s) {
  const m = s.match(/^(["'])(.*)\1$/);
  return m ? m[2] : s;
}

/** Parses `COUNT, P99(duration_ms)` into calculations. */
export function parseCalcs(text) {
  return items(text).map((s) => {
    const c = calc(s);
    if (!c) throw new Error(`cannot read the calculation "${s}" (write OP or OP(column))`);
    return c;
  });
}

/**
 * Parses `P99(duration_ms) desc, COUNT, endpoint asc` into orders. An item names a
 * calculation when it is `OP(column)`, or an operator among `ops` (the engine's list);
 * otherwise a breakdown column. The direction is `asc`/`ascending` or `desc`/`descending`
 * (default ascending, as Honeycomb's).
 * @param {string} text
 * @param {readonly string[]} ops the calculation operators the engine knows
 */
export function parseOrders(text, ops) {
  const known = new Set(ops);
  return items(text).map((s) => {
    const m = s.match(/^(.*?)(?:\s+(asc|ascending|desc|descending))?$/i);
    const what = m[1].trim();
    if (!what) throw new Error(`cannot read the order "${s}" (write CALCULATION or column, then asc or desc)`);
    const order = m[2] && /^desc/i.test(m[2]) ? 'descending' : 'ascending';
    const c = calc(what);
    // A bare word is an operator only as the engine writes it (`COUNT`, not a column `count`).
    if (c && (c.column !== undefined || (known.has(what) && c.op === what))) return { ...c, order };
    return { column: unquote(what), order };
  });
}

/**
 * Parses `COUNT > 10, P99(duration_ms) >= 500` into havings (`=`, `!=`, `>`, `>=`, `<`, `<=`).
 * @param {string} text
 */
export function parseHavings(text) {
  return items(text).map((s) => {
    const m = s.match(/^(.*?)\s*(>=|<=|!=|=|>|<)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/);
    const c = m && calc(m[1].trim());
    if (!c) throw new Error(`cannot read the having "${s}" (write CALCULATION OP NUMBER, e.g. COUNT > 10)`);
    const h = { calculate_op: c.op, op: m[2], value: Number(m[3]) };
    if (c.column !== undefined) h.column = c.column;
    return h;
  });
}

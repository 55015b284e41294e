// Shared pieces of the Sightline elements: formatting, the base stylesheet, colours
// from CSS custom properties, and drawing an engine rendering onto a canvas.
//
// Everything that shows data-derived text does it through textContent, attributes or
// canvas fillText: never innerHTML; and through `displayText`, which makes invisible and
// direction-changing characters visible.

import { displayText } from './text.js';

export { displayText };

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function formatInt(n) {
  return intFormat.format(n);
}

// Values with units are written exactly as the engine writes its axis labels
// (src/render.rs `format_value`), so that a tooltip, a status line and an axis agree:
// `1.5s`, `20ms`, `0.5ms`, `12k`, `1.2MB`. `fixed` is Rust's `format!("{:.N}")`.

/** The sign, integer mantissa and binary exponent of a finite double: |x| = m * 2^e. */
function decompose(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return exp === 0 ? [m, -1074] : [m | (1n << 52n), exp - 1075];
}

/**
 * `x` with `digits` decimals exactly as Rust's `format!("{x:.digits$}")` writes it: from
 * the exact binary value, ties to even (`0.25` -> `0.2`, where `toFixed` says `0.3`), the
 * sign of negative zero kept (`-0.0`), no exponent however large, `NaN`, `inf`, `-inf`.
 */
export function fixed(x, digits) {
  if (Number.isNaN(x)) return 'NaN';
  const negative = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return negative ? '-inf' : 'inf';
  const [m, e] = decompose(x);
  const scale = 10n ** BigInt(digits);
  let n;
  if (e >= 0) {
    n = (m << BigInt(e)) * scale;
  } else {
    const num = m * scale;
    const den = 1n << BigInt(-e);
    n = num / den;
    const twice = (num % den) * 2n;
    if (twice > den || (twice === den && (n & 1n) === 1n)) n += 1n;
  }
  let s = n.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, '0');
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return negative ? `-${s}` : s;
}

/** Trailing zeros (and a trailing point) dropped: `1.50` -> `1.5`, `2.0` -> `2`. */
function trim(s) {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** A number as the axis labels write it: `12k`, `1.5M`, `2.5G`, `12.3`, `0.077`. */
export function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(fixed(v / 1e9, 1))}G`;
  if (a >= 1e6) return `${trim(fixed(v / 1e6, 1))}M`;
  if (a >= 1e3) return `${trim(fixed(v / 1e3, 1))}k`;
  if (a >= 1 || a === 0) return trim(fixed(v, 1));
  return trim(fixed(v, 3));
}

/**
 * A value with its unit, as the engine's axis labels write it: `ms` in ms below a second
 * and in seconds from there (`20ms`, `0.5ms`, `1.5s`), any other unit after the compact
 * number (`1.2MB`), none: the compact number. The one formatter of values with units.
 */
export function formatValue(v, unit) {
  if (unit === 'ms' && Math.abs(v) >= 1000) return `${trim(fixed(v / 1000, 1))}s`;
  if (unit === 'ms') return `${compact(v)}ms`;
  if (unit) return `${compact(v)}${unit}`;
  return compact(v);
}

// ---------------------------------------------------------------------------------------
// Time zones and times
// ---------------------------------------------------------------------------------------
//
// The `time-zone` attribute: an IANA name (`America/New_York`), `utc`/`UTC`, or `local`
// (or absent): resolved once to an IANA name, and every time the page writes itself is
// formatted with Intl.DateTimeFormat in that zone, so it is right on both sides of a DST
// change. A name Intl does not know falls back to local time, with a note for the
// element's status (`timeZoneProblem`); nothing here throws. Times are unix seconds;
// one outside the Date range (|ms| > 8.64e15) or not finite is written as its number.

const MAX_DATE_MS = 8.64e15;

/** The browser's own IANA zone (`UTC` where Intl cannot say). */
export function localTimeZone() {
  // Asked on every redraw; a DateTimeFormat costs a millisecond or more to build.
  if (localZone === null) {
    try {
      localZone = new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    } catch {
      localZone = 'UTC';
    }
  }
  return localZone;
}
let localZone = null;

/** The canonical IANA name Intl gives `name` (`america/new_york` -> `America/New_York`), or null. */
function knownTimeZone(name) {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

function zoneKey(attr) {
  const s = typeof attr === 'string' ? attr.trim() : '';
  if (s === '' || s.toLowerCase() === 'local') return { kind: 'local' };
  if (s.toLowerCase() === 'utc') return { kind: 'utc' };
  return { kind: 'named', name: s };
}

const resolved = new Map();

/**
 * The IANA time zone a `time-zone` attribute names: `utc`/`UTC` -> `UTC`; absent, empty
 * or `local` -> the browser's zone; an IANA name -> itself (canonical case); a name Intl
 * does not know -> the browser's zone. The engine's render options and query spec will
 * take this as `time_zone`.
 */
export function resolveTimeZone(attr) {
  const k = zoneKey(attr);
  if (k.kind === 'utc') return 'UTC';
  if (k.kind === 'local') return localTimeZone();
  if (!resolved.has(k.name)) resolved.set(k.name, knownTimeZone(k.name));
  return resolved.get(k.name) ?? localTimeZone();
}

/** Why a `time-zone` attribute is not used as given (for the element's status), or ''. */
export function timeZoneProblem(attr) {
  const k = zoneKey(attr);
  if (k.kind !== 'named') return '';
  resolveTimeZone(attr);
  if (resolved.get(k.name)) return '';
  return `unknown time zone "${displayText(k.name)}": times are local (${localTimeZone()})`;
}

/** Whether times are written with their zone (the attribute named one, `utc` included). */
export function namesZone(attr) {
  return zoneKey(attr).kind !== 'local' && !timeZoneProblem(attr);
}

/** A line for a status: `times in America/New_York`, the problem with the attribute, or ''. */
export function timeZoneNote(attr) {
  return timeZoneProblem(attr) || (namesZone(attr) ? `times in ${resolveTimeZone(attr)}` : '');
}

/** Milliseconds for unix seconds `t`, or null when Date cannot hold it. */
function dateMs(t) {
  const ms = typeof t === 'number' ? t * 1000 : Number.NaN;
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? ms : null;
}

/** A time Date cannot hold, as text: the number itself. */
function rawTime(t) {
  return typeof t === 'number' ? String(t) : String(t ?? '');
}

const formatCache = new Map();

/** Intl formatters for one zone (cached: building one costs far more than using it). */
export function timeFormats(attr) {
  const timeZone = typeof attr === 'boolean' ? (attr ? 'UTC' : localTimeZone()) : resolveTimeZone(attr);
  let f = formatCache.get(timeZone);
  if (f) return f;
  const make = (options) => new Intl.DateTimeFormat(undefined, { timeZone, ...options });
  const clock = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  f = {
    timeZone,
    date: make({ month: 'short', day: 'numeric' }),
    time: make(clock),
    seconds: make({ ...clock, second: '2-digit' }),
    dayFormat: make({ year: 'numeric', month: 'short', day: 'numeric' }),
    parts: new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'shortOffset',
    }),
  };
  /** `Oct 31, 2026` for unix seconds (the number itself when out of range). */
  f.day = (t) => {
    const ms = dateMs(t);
    return ms === null ? rawTime(t) : f.dayFormat.format(ms);
  };
  formatCache.set(timeZone, f);
  return f;
}

/** The wall-clock fields of an instant in a zone, and its offset name (`GMT-5`). */
function wallClock(f, ms) {
  const out = {};
  for (const p of f.parts.formatToParts(ms)) out[p.type] = p.value;
  return out;
}

/** Minutes east of UTC of `timeZone` (an attribute value) at unix seconds `t`; 0 when out of range. */
export function offsetMinutes(attr, t) {
  const ms = dateMs(t);
  if (ms === null) return 0;
  const w = wallClock(timeFormats(attr), ms);
  const asUtc = Date.UTC(Number(w.year), Number(w.month) - 1, Number(w.day), Number(w.hour) % 24, Number(w.minute), Number(w.second));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/**
 * The engine's render options for times in the zone `attr` names: the IANA name, so
 * axis labels are right on both sides of a daylight-saving change (`t` is unused; a
 * fixed offset at `t` was the old way).
 */
// eslint-disable-next-line no-unused-vars
export function renderTimeOptions(attr, t) {
  return { time_zone: resolveTimeZone(attr) };
}

/** ` UTC`, ` GMT-5`: the zone written after a time, when the attribute names one. */
function zoneSuffix(attr, f, ms) {
  if (!namesZone(attr)) return '';
  if (f.timeZone === 'UTC') return ' UTC';
  return ` ${wallClock(f, ms).timeZoneName}`;
}

/**
 * `Oct 31, 16:00 – 16:12` in the zone `attr` names (the end's date only when it differs;
 * seconds when the range is under two minutes), followed by the zone when one is named:
 * `… UTC`, `… GMT-5`, and each end's offset when a DST change lies between them. Times
 * out of the Date range are written as numbers.
 */
export function formatTimeRange(t0, t1, attr) {
  const a = dateMs(t0);
  const b = dateMs(t1);
  const f = timeFormats(attr);
  if (a === null || b === null) {
    const one = (t, ms) => (ms === null ? rawTime(t) : `${f.date.format(ms)}, ${f.time.format(ms)}${zoneSuffix(attr, f, ms)}`);
    return `${one(t0, a)} – ${one(t1, b)}`;
  }
  const clock = t1 - t0 < 120 ? f.seconds : f.time;
  const da = f.date.format(a);
  const db = f.date.format(b);
  const za = zoneSuffix(attr, f, a);
  const zb = zoneSuffix(attr, f, b);
  const start = `${da}, ${clock.format(a)}${za === zb ? '' : za}`;
  return da === db ? `${start} – ${clock.format(b)}${zb}` : `${start} – ${db}, ${clock.format(b)}${zb}`;
}

/**
 * One instant for a table: `2026-10-31 16:33:11.898 UTC`, `2026-03-08 01:30:00 GMT-5`
 * (milliseconds when there are any; the offset always, so that the hour repeated when
 * clocks go back reads differently), in the zone `attr` names.
 */
export function formatTimestamp(t, attr) {
  const exact = dateMs(t);
  if (exact === null) return rawTime(t);
  const ms = Math.round(exact);
  const f = timeFormats(attr);
  const w = wallClock(f, ms);
  const frac = ms % 1000;
  const fraction = frac === 0 ? '' : `.${String((frac + 1000) % 1000).padStart(3, '0')}`;
  const zone = f.timeZone === 'UTC' ? 'UTC' : w.timeZoneName;
  return `${w.year}-${w.month}-${w.day} ${w.hour}:${w.minute}:${w.second}${fraction} ${zone}`;
}

// ---------------------------------------------------------------------------------------
// Styles
// ---------------------------------------------------------------------------------------

export const STYLE = `
:host {
  --sightline-bg: #ffffff;
  --sightline-fg: #57606a;
  --sightline-muted: #8c959f;
  --sightline-accent: #0969da;
  --sightline-border: #d0d7de;
  --sightline-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --sightline-palette: #e8f6b1 #c7e9b4 #7fcdbb #41b6c4 #1d91c0 #225ea8 #0c2c84;
  display: flex;
  flex-direction: column;
  box-sizing: border-box;
  position: relative;
  height: var(--sightline-height, 420px);
  min-height: 180px;
  color: var(--sightline-fg);
  background: var(--sightline-bg);
  font: 13px/1.4 var(--sightline-font);
  contain: layout paint;
}
@media (prefers-color-scheme: dark) {
  :host {
    --sightline-bg: #0d1117;
    --sightline-fg: #9da7b3;
    --sightline-muted: #6e7681;
    --sightline-accent: #58a6ff;
    --sightline-border: #30363d;
    --sightline-palette: #2b3f73 #2c5c8f #21868f #2fae7f #9bd35a #f5e55b;
  }
}
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
.head {
  display: flex;
  align-items: baseline;
  gap: 12px;
  min-height: 20px;
  padding: 0 2px 6px;
}
.head select {
  font: inherit;
  font-size: 12px;
  color: inherit;
  background: var(--sightline-bg);
  border: 1px solid var(--sightline-border);
  border-radius: 6px;
  padding: 1px 6px;
  max-width: 180px;
}
[part="status"] {
  flex: 1 1 auto;
  min-width: 0;
  overflow: hidden;
  white-space: nowrap;
  text-overflow: ellipsis;
  font-variant-numeric: tabular-nums;
}
[part="status"] .title {
  color: var(--sightline-title, currentColor);
  font-weight: 600;
}
[part="status"] .sep { color: var(--sightline-muted); padding: 0 6px; }
:host([state="error"]) [part="status"] .detail { color: var(--sightline-error, #cf222e); }
[part="progress"] {
  position: relative;
  height: 3px;
  margin: 0 2px 6px;
  border-radius: 2px;
  overflow: hidden;
  background: var(--sightline-border);
  transition: opacity 400ms ease 200ms;
}
[part="progress"] .fill {
  position: absolute;
  inset: 0;
  background: var(--sightline-accent);
  transform-origin: left center;
  transform: scaleX(0);
  transition: transform 120ms linear;
}
[part="progress"].indeterminate .fill {
  transform: scaleX(0.3);
  animation: sweep 1.2s ease-in-out infinite;
}
@keyframes sweep {
  from { translate: -30% 0; }
  to { translate: 100% 0; }
}
:host([state="ready"]) [part="progress"], :host([state="error"]) [part="progress"] { opacity: 0; }
.plot {
  position: relative;
  flex: 1 1 auto;
  min-height: 100px;
  overflow: hidden;
}
canvas {
  position: absolute;
  left: 0;
  top: 0;
  display: block;
  width: 100%;
  height: 100%;
  outline: none;
  cursor: crosshair;
}
canvas:focus-visible { outline: 2px solid var(--sightline-accent); outline-offset: -2px; }
.cursor {
  position: absolute;
  left: 0;
  top: 0;
  box-sizing: border-box;
  pointer-events: none;
  border: 1.5px solid var(--sightline-cursor, var(--sightline-fg));
  border-radius: 1px;
}
[part="tooltip"] {
  position: absolute;
  left: 0;
  top: 0;
  z-index: 1;
  pointer-events: none;
  padding: 6px 9px;
  border-radius: 6px;
  border: 1px solid var(--sightline-border);
  background: var(--sightline-tooltip-bg, var(--sightline-bg));
  color: var(--sightline-fg);
  box-shadow: 0 4px 14px rgb(0 0 0 / 0.14);
  font-size: 12px;
  line-height: 1.45;
  white-space: nowrap;
  font-variant-numeric: tabular-nums;
}
.brush {
  position: absolute;
  left: 0;
  top: 0;
  box-sizing: border-box;
  pointer-events: none;
  border: 1.5px dashed var(--sightline-accent);
  background: color-mix(in srgb, var(--sightline-accent) 12%, transparent);
}
[part="tooltip"] .count { font-weight: 600; color: var(--sightline-title, currentColor); }
`;

/**
 * A constructable stylesheet of `css`, made on first use and shared by every shadow root
 * that adopts it (made lazily, so the modules import where there is no CSSOM).
 */
export function lazySheet(css) {
  let sheet = null;
  return () => {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
    }
    return sheet;
  };
}

export const styleSheet = lazySheet(STYLE);

// ---------------------------------------------------------------------------------------
// Colours from CSS custom properties
// ---------------------------------------------------------------------------------------

let scratch = null;
/** Normalises any CSS colour to `#rrggbb` (or returns `fallback`). */
export function hexColour(value, fallback) {
  const v = (value ?? '').trim();
  if (/^#[0-9a-f]{6}$/i.test(v)) return v.toLowerCase();
  if (!v) return fallback;
  scratch ??= document.createElement('canvas').getContext('2d');
  // An invalid colour leaves fillStyle unchanged: parse from two different starting points.
  scratch.fillStyle = '#000000';
  scratch.fillStyle = v;
  const a = scratch.fillStyle;
  scratch.fillStyle = '#ffffff';
  scratch.fillStyle = v;
  const b = scratch.fillStyle;
  return a === b && /^#[0-9a-f]{6}$/i.test(a) ? a : fallback;
}

export function intAttr(node, name, fallback, lo, hi) {
  const v = Number.parseInt(node.getAttribute(name) ?? '', 10);
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
}

/** A JSON array attribute (e.g. `filters`); anything else reads as an empty list. */
export function jsonListAttr(node, name) {
  try {
    const v = JSON.parse(node.getAttribute(name) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/** `el('div', { class, text, ...attributes }, ...children)`: text goes in as textContent. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children);
  return node;
}

/** Colours and font of an element, from its --sightline-* custom properties. */
/** An option of a select: `text` may name a column, so it is shown through displayText. */
export function option(value, text, selected) {
  const o = el('option', { value, text: displayText(text) });
  o.selected = Boolean(selected);
  return o;
}

/** A labelled `<select>` of `[value, text]` options. */
export function select(label, options, value) {
  const s = el('select', { 'aria-label': label });
  s.append(...options.map(([v, t]) => option(v, t, String(v) === String(value ?? ''))));
  return s;
}

export function readTheme(node) {
  const cs = getComputedStyle(node);
  const background = hexColour(cs.getPropertyValue('--sightline-bg'), '#ffffff');
  const foreground = hexColour(cs.getPropertyValue('--sightline-fg'), '#57606a');
  const grid = hexColour(cs.getPropertyValue('--sightline-grid'), background === '#ffffff' ? '#eaeef2' : '#21262d');
  const list = (name) =>
    cs
      .getPropertyValue(name)
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((c) => hexColour(c, ''))
      .filter(Boolean);
  const family = cs.getPropertyValue('--sightline-font').trim() || 'system-ui, sans-serif';
  return { background, foreground, grid, palette: list('--sightline-palette'), lines: list('--sightline-lines'), family };
}

export function devicePixelRatio() {
  return Math.min(4, Math.max(0.5, window.devicePixelRatio || 1));
}

/** Draws an engine rendering (RGBA bitmap plus labels) on a canvas at `dpr`. */
export function drawRendered(canvas, r, theme, dpr) {
  if (canvas.width !== r.width) canvas.width = r.width;
  if (canvas.height !== r.height) canvas.height = r.height;
  const cssW = r.width / dpr;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${r.height / dpr}px`;
  const ctx = canvas.getContext('2d', { alpha: false });
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.putImageData(new ImageData(r.rgba, r.width, r.height), 0, 0);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = `12px ${theme.family}`;
  ctx.fillStyle = theme.foreground;
  const placed = [];
  const pad = 3;
  for (const label of r.labels) {
    ctx.textAlign = label.align;
    ctx.textBaseline = label.baseline;
    const text = displayText(label.text);
    const m = ctx.measureText(text);
    const width = m.width;
    let x = label.x;
    let left = label.align === 'right' ? x - width : label.align === 'center' ? x - width / 2 : x;
    // Keep labels inside the canvas; skip one that would overlap another.
    const shift = Math.max(0, 2 - left) - Math.max(0, left + width - (cssW - 2));
    x += shift;
    left += shift;
    const box = {
      l: left - pad,
      r: left + width + pad,
      t: label.y - m.actualBoundingBoxAscent - 1,
      b: label.y + m.actualBoundingBoxDescent + 1,
    };
    if (placed.some((p) => box.l < p.r && box.r > p.l && box.t < p.b && box.b > p.t)) continue;
    placed.push(box);
    ctx.fillText(text, x, label.y);
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

/**
 * Draws markers (deploys, incidents) over a rendered time chart: a dashed vertical line
 * at each marker's time within `[t0, t1)` of the plot, its label at the top (fillText:
 * data-derived text never becomes markup). Returns where each was drawn (CSS pixels).
 */
export function drawMarkers(canvas, plot, t0, t1, markers, theme, dpr) {
  const drawn = [];
  const placed = [];
  if (!plot || !markers?.length || !(t1 > t0)) return drawn;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = `11px ${theme.family}`;
  ctx.textBaseline = 'top';
  // The axis labels drawn before may have left it centred or right-aligned.
  ctx.textAlign = 'left';
  // Every line first, then every label on a patch of the background: a later marker's
  // line never runs through an earlier one's label.
  for (const m of markers) {
    if (!(m.time >= t0 && m.time < t1)) continue;
    const x = plot.x + (plot.w * (m.time - t0)) / (t1 - t0);
    const colour = m.kind === 'incident' ? '#cf222e' : theme.foreground;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(Math.round(x) + 0.5, plot.y);
    ctx.lineTo(Math.round(x) + 0.5, plot.y + plot.h);
    ctx.stroke();
    ctx.setLineDash([]);
    const text = displayText(m.label);
    const w = ctx.measureText(text).width;
    const left = x + 4 + w > plot.x + plot.w ? x - 4 - w : x + 4;
    // The first of three rows where the label overlaps none placed; none: the line alone.
    const row = [0, 1, 2].find((k) => !placed.some((p) => p.row === k && left < p.r + 4 && left + w > p.l - 4));
    if (row !== undefined && left >= plot.x) placed.push({ row, l: left, r: left + w, text, colour });
    drawn.push({ time: m.time, label: m.label, kind: m.kind, x });
  }
  for (const p of placed) {
    const y = plot.y + 2 + p.row * 13;
    ctx.globalAlpha = 0.85;
    ctx.fillStyle = theme.background;
    ctx.fillRect(p.l - 2, y - 1, p.r - p.l + 4, 13);
    ctx.globalAlpha = 1;
    ctx.fillStyle = p.colour;
    ctx.fillText(p.text, p.l, y);
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  return drawn;
}

/** Fills a canvas of `w` x `h` CSS pixels with one centred line of text (e.g. an error naming a column). */
export function drawMessage(canvas, w, h, message, theme) {
  if (!w || !h) return;
  const text = displayText(message);
  const dpr = devicePixelRatio();
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d', { alpha: false });
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = `13px ${theme.family}`;
  ctx.fillStyle = theme.foreground;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  let line = text.length > 160 ? `${text.slice(0, 157)}…` : text;
  while (line.length > 8 && ctx.measureText(line).width > w - 24) line = `${line.slice(0, -2)}…`;
  ctx.fillText(line, w / 2, h / 2);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  canvas.setAttribute('aria-label', text);
}

const hashWrites = new Map();
let hashTimer = 0;

/**
 * Sets `key` in the page's URL hash to what `value()` returns, in a task of its own and
 * once however many changes come first (the last state wins). Chromium's
 * `history.replaceState` costs 6-9 ms per call, two to three times that on a busy machine:
 * written in the task of the click that changed the view, it made that task a long one.
 */
export function writeHashLater(key, value) {
  hashWrites.set(key, value);
  if (hashTimer) return;
  hashTimer = setTimeout(() => {
    hashTimer = 0;
    const params = new URLSearchParams(location.hash.slice(1));
    for (const [k, v] of hashWrites) params.set(k, v());
    hashWrites.clear();
    const url = `${location.pathname}${location.search}#${params.toString()}`;
    if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(history.state, '', url);
  }, 0);
}

/** Dispatches a bubbling, composed CustomEvent. */
export function emit(node, type, detail) {
  node.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail }));
}

const exactFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
const roundFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** A number for a table: grouped digits, at most 3 decimals (2 from 1000 up). */
export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? roundFormat.format(v) : exactFormat.format(v);
}

/** The text a cell shows: numbers exact, times in the zone `timeZone` names, null as the empty-set sign. */
export function cellText(v, column, timeZone) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'number') {
    if (column?.role === 'time') return formatTimestamp(v, timeZone);
    return formatNumber(v);
  }
  return displayText(v);
}

// The parts that stand alone and link through a shared source: <sightline-source>,
// <sightline-breakdown>, <sightline-compare>, <sightline-events>; and the whole
// experience, <sightline-explorer>, built from them.
//
// Data-derived text only goes through textContent, attribute values and canvas fillText.

import { SightlineSource } from './source.js';
import { SourceBound, contextSpec, openOptions } from './heatmap.js';
import {
  cellText,
  displayText,
  devicePixelRatio,
  drawMessage,
  drawRendered,
  el,
  emit,
  formatInt,
  formatTimeRange,
  formatValue,
  intAttr,
  jsonListAttr,
  readTheme,
  renderTimeOptions,
  resolveTimeZone,
  timeZoneNote,
  timeZoneProblem,
} from './ui.js';

// ---------------------------------------------------------------------------------------
// Styles
// ---------------------------------------------------------------------------------------

const PARTS_STYLE = `
:host {
  --sightline-bg: #ffffff;
  --sightline-fg: #1f2328;
  --sightline-muted: #656d76;
  --sightline-accent: #0969da;
  --sightline-border: #d0d7de;
  --sightline-subtle: #f6f8fa;
  --sightline-selection: #e36209;
  --sightline-baseline: #8c959f;
  --sightline-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --sightline-lines: #4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac;
  display: block;
  box-sizing: border-box;
  color: var(--sightline-fg);
  background: var(--sightline-bg);
  font: 13px/1.45 var(--sightline-font);
}
@media (prefers-color-scheme: dark) {
  :host {
    --sightline-bg: #0d1117;
    --sightline-fg: #e6edf3;
    --sightline-muted: #8d96a0;
    --sightline-accent: #58a6ff;
    --sightline-border: #30363d;
    --sightline-subtle: #161b22;
    --sightline-selection: #f0883e;
    --sightline-baseline: #6e7681;
  }
}
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
* { box-sizing: border-box; }
button, select, input {
  font: inherit;
  color: inherit;
  background: var(--sightline-bg);
  border: 1px solid var(--sightline-border);
  border-radius: 6px;
  padding: 3px 8px;
  min-height: 28px;
}
button { cursor: pointer; background: var(--sightline-subtle); }
button:hover { border-color: var(--sightline-muted); }
button.primary { background: var(--sightline-accent); border-color: var(--sightline-accent); color: #fff; }
button.link { background: none; border: none; color: var(--sightline-accent); padding: 0 2px; min-height: 0; text-align: left; }
button.link:hover { text-decoration: underline; }
button.icon { padding: 0 7px; }
:focus-visible { outline: 2px solid var(--sightline-accent); outline-offset: 1px; }
.muted { color: var(--sightline-muted); }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.spacer { flex: 1 1 auto; }
h3, h4 { margin: 0; font-size: 13px; font-weight: 600; }
.chart { position: relative; height: var(--sightline-chart-height, 220px); }
.chart canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0 8px; font-size: 12px; }
.legend .swatch { display: inline-block; width: 10px; height: 3px; margin-right: 5px; vertical-align: middle; border-radius: 1px; }
[part="tooltip"] {
  position: absolute; left: 0; top: 0; z-index: 2; pointer-events: none;
  padding: 6px 9px; border-radius: 6px; border: 1px solid var(--sightline-border);
  background: var(--sightline-bg); box-shadow: 0 4px 14px rgb(0 0 0 / 0.14);
  font-size: 12px; white-space: nowrap; font-variant-numeric: tabular-nums;
}
.guide { position: absolute; top: 0; width: 1px; pointer-events: none; background: var(--sightline-muted); }
.table-wrap { overflow: auto; max-height: var(--sightline-table-height, 360px); border: 1px solid var(--sightline-border); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; text-align: left; border-bottom: 1px solid var(--sightline-border); white-space: nowrap; max-width: 420px; overflow: hidden; text-overflow: ellipsis; unicode-bidi: isolate; }
thead { position: sticky; top: 0; z-index: 1; }
th { background: var(--sightline-subtle); font-weight: 600; }
th button { all: unset; cursor: pointer; }
th button:focus-visible { outline: 2px solid var(--sightline-accent); }
td.num, th.num { text-align: right; }
tbody tr:hover { background: var(--sightline-subtle); }
tbody tr[tabindex] { cursor: pointer; }
tr.open { background: var(--sightline-subtle); }
.detail td { white-space: normal; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 4px 0; }
dl.fields dt { color: var(--sightline-muted); }
dl.fields dd { margin: 0; word-break: break-all; unicode-bidi: isolate; white-space: pre-wrap; }
.swatch-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; }
.dims { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.dim { border: 1px solid var(--sightline-border); border-radius: 8px; padding: 8px 10px; }
.dim header { display: flex; align-items: baseline; gap: 8px; margin-bottom: 6px; }
.dim header .score { margin-left: auto; font-variant-numeric: tabular-nums; color: var(--sightline-muted); font-size: 12px; }
.val { display: grid; grid-template-columns: minmax(0, 1fr) 110px 56px; gap: 2px 8px; align-items: center; padding: 2px 0; }
.val .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; unicode-bidi: isolate; }
.bars { display: flex; flex-direction: column; gap: 2px; }
.bar { height: 5px; border-radius: 2px; min-width: 1px; }
.bar.sel { background: var(--sightline-selection); }
.bar.base { background: var(--sightline-baseline); }
.diff { text-align: right; font-size: 12px; font-variant-numeric: tabular-nums; }
.diff.up { color: var(--sightline-selection); }
.key { display: inline-flex; align-items: center; gap: 5px; font-size: 12px; }
.key i { display: inline-block; width: 14px; height: 5px; border-radius: 2px; }
.key i.sel { background: var(--sightline-selection); }
.key i.base { background: var(--sightline-baseline); }
.empty { padding: 16px; text-align: center; color: var(--sightline-muted); }
.error { color: var(--sightline-error, #cf222e); }
`;

let partsSheet = null;
function partsStyle() {
  if (!partsSheet) {
    partsSheet = new CSSStyleSheet();
    partsSheet.replaceSync(PARTS_STYLE);
  }
  return partsSheet;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** A calculation's result name, as the engine writes it: `COUNT`, `P99(duration_ms)`. */
export function calcName(c) {
  return c.column ? `${c.op}(${c.column})` : c.op;
}

/** Parses `COUNT, P99(duration_ms)` into calculations. */
export function parseCalcs(text) {
  return String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = s.match(/^([A-Z0-9_.]+)\s*(?:\(\s*(.*?)\s*\))?$/i);
      if (!m) throw new Error(`cannot read the calculation "${s}" (write OP or OP(column))`);
      return m[2] ? { op: m[1].toUpperCase(), column: m[2] } : { op: m[1].toUpperCase() };
    });
}

function listAttr(node, name) {
  return (node.getAttribute(name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP). */
export function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCSV(columns, rows) {
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) lines.push(r.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves a Blob as a file through a temporary link (no network request). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function canvasBlob(canvas) {
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the chart could not be encoded as PNG'))), 'image/png'),
  );
}

/** A sortable table: `columns` `[{ key, label, numeric? }]`, rows of objects. */
class Table {
  constructor(caption, onRow) {
    this.table = el('table', { part: 'table' });
    this.caption = el('caption', { class: 'muted', hidden: true, text: caption });
    this.head = el('thead');
    this.body = el('tbody');
    this.table.append(this.caption, this.head, this.body);
    this.wrap = el('div', { class: 'table-wrap' }, this.table);
    this.sort = null; // { key, desc }
    this.onRow = onRow;
    this.columns = [];
    this.rows = [];
    this.renderGen = 0;
  }

  set(columns, rows) {
    this.columns = columns;
    this.rows = rows;
    if (this.sort && !columns.some((c) => c.key === this.sort.key)) this.sort = null;
    this.render();
  }

  sorted() {
    if (!this.sort) return this.rows;
    const { key, desc } = this.sort;
    const cmp = (a, b) => {
      const x = a[key];
      const y = b[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -r : r;
    };
    return [...this.rows].sort(cmp);
  }

  render() {
    const tr = el('tr');
    for (const c of this.columns) {
      const active = this.sort?.key === c.key;
      const sortText = active ? (this.sort.desc ? 'descending' : 'ascending') : 'none';
      const label = displayText(c.label);
      const b = el('button', { type: 'button', text: `${label}${active ? (this.sort.desc ? ' ▼' : ' ▲') : ''}`, title: `Sort by ${label}` });
      b.addEventListener('click', () => {
        this.sort = { key: c.key, desc: this.sort?.key === c.key ? !this.sort.desc : Boolean(c.numeric) };
        this.render();
      });
      tr.append(el('th', { scope: 'col', class: c.numeric ? 'num' : '', 'aria-sort': sortText }, b));
    }
    this.head.replaceChildren(tr);
    const rows = this.sorted();
    const make = (r) => {
        const row = el('tr', this.onRow ? { tabindex: '0' } : {});
        for (const c of this.columns) {
          const text = c.format ? c.format(r[c.key], r) : cellText(r[c.key]);
          const cell = el('td', { class: c.numeric ? 'num' : '', text, title: text.length > 40 ? text : undefined });
          if (c.swatch && r.__colour) cell.prepend(el('span', { class: 'swatch-dot', 'aria-hidden': 'true' }));
          if (c.swatch && r.__colour) cell.firstChild.style.background = r.__colour;
          row.append(cell);
        }
        if (this.onRow) {
          row.addEventListener('click', () => this.onRow(r, row));
          row.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              this.onRow(r, row);
            }
          });
        }
        return row;
    };
    // The first rows now, the rest in later tasks: a long table never blocks the page
    // (layout of a few hundred cells per task).
    const gen = ++this.renderGen;
    this.body.replaceChildren(...rows.slice(0, FIRST_ROWS).map(make));
    for (let at = FIRST_ROWS; at < rows.length; at += MORE_ROWS) {
      setTimeout(() => {
        if (gen === this.renderGen) this.body.append(...rows.slice(at, at + MORE_ROWS).map(make));
      }, 0);
    }
  }
}

const FIRST_ROWS = 40;
const MORE_ROWS = 30;

/** Runs `fn` for the latest call only: older in-flight results are dropped. */
class Latest {
  #gen = 0;
  async run(fn) {
    const gen = ++this.#gen;
    const value = await fn();
    if (gen !== this.#gen) throw new DOMException('superseded', 'AbortError');
    return value;
  }
  cancel() {
    this.#gen += 1;
  }
}

let channelSeq = 0;
function channel(kind) {
  channelSeq += 1;
  return `${kind}-${channelSeq}`;
}

/** Base of the parts: shadow root with the parts stylesheet, source plumbing, redraw scheduling. */
class Part extends SourceBound {
  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.root.adoptedStyleSheets = [partsStyle()];
    this.latest = new Latest();
    this.channel = channel(this.localName);
    this.timer = 0;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === 'src') return this.srcChanged(newValue);
    if (name === 'source') {
      if (this.isConnected) this.connectSource();
      return;
    }
    if (this.connectedOnce) this.schedule();
  }

  connectedCallback() {
    for (const prop of ['fetchInit', 'src', 'source', 'query', 'spec']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.connectedOnce = true;
    this.connectSource();
    this.schedule();
  }

  disconnectedCallback() {
    clearTimeout(this.timer);
    this.latest.cancel();
    this.disconnectSource();
  }

  onSource(type, detail) {
    if (type === 'progress' && this.ownsSource) emit(this, 'sightline-progress', detail);
    if (type === 'error' && this.ownsSource) emit(this, 'sightline-error', detail);
    if (type === 'ready' && this.ownsSource) emit(this, 'sightline-ready', detail);
    if (['ready', 'context', 'bind'].includes(type)) this.schedule();
    if (type === 'data') this.schedule(500);
  }

  schedule(delay = 0) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  /** Recomputes; override. */
  async refresh() {}

  ready() {
    const s = this.source;
    return this.isConnected && s && s.running && s.rows > 0;
  }
}

// ---------------------------------------------------------------------------------------
// <sightline-source>
// ---------------------------------------------------------------------------------------

/** `<sightline-source id="prod" src="/api/events">`: a shared, invisible data source. */
export class SightlineSourceElement extends HTMLElement {
  static observedAttributes = ['src'];
  #source = null;

  get source() {
    if (!this.#source) {
      const budget = Number(this.getAttribute('budget-bytes'));
      this.#source = new SightlineSource(budget > 0 ? { budgetBytes: budget } : {});
      for (const type of ['progress', 'ready', 'error']) {
        this.#source.addEventListener(type, (e) => emit(this, `sightline-${type}`, e.detail));
      }
    }
    return this.#source;
  }

  get src() {
    return this.getAttribute('src') ?? '';
  }
  set src(v) {
    this.setAttribute('src', String(v));
  }

  load(input, options) {
    return this.source.load(input, options);
  }
  /** Adds the batches of another stream (not `append`, which is the DOM's). */
  appendStream(input, options) {
    return this.source.append(input, options);
  }

  connectedCallback() {
    this.hidden = true;
    if (this.src && this.source.state === 'idle') this.source.open(this.src, openOptions(this)).catch(() => {});
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'src' && newValue && oldValue !== newValue && this.isConnected) this.source.open(newValue, openOptions(this)).catch(() => {});
  }

  disconnectedCallback() {
    queueMicrotask(() => {
      if (this.isConnected || !this.#source) return;
      this.#source.close();
      this.#source = null;
    });
  }
}

// ---------------------------------------------------------------------------------------
// <sightline-breakdown>
// ---------------------------------------------------------------------------------------

const MAX_CHART_LINES = 10;

/**
 * `<sightline-breakdown calculations="COUNT, P99(duration_ms)" breakdowns="endpoint">`:
 * a line chart per calculation (one line per group, the top ten) and a sortable results
 * table; or set `query` to a whole query specification.
 */
export class SightlineBreakdown extends Part {
  static observedAttributes = ['src', 'source', 'calculations', 'breakdowns', 'limit', 'time-zone', 'charts'];

  #query = null;
  #result = null;
  #charts = [];
  #ui;
  #resize;
  #width = 0;

  constructor() {
    super();
    const status = el('div', { class: 'muted', part: 'status', role: 'status', 'aria-live': 'polite', text: 'No data' });
    const csv = el('button', { type: 'button', part: 'export-csv', text: 'Export CSV', 'aria-label': 'Export the results table as CSV' });
    csv.addEventListener('click', () => this.exportCSV());
    this.table = new Table('Results', (row) => emit(this, 'sightline-row-click', { row: this.#plain(row), kind: 'result' }));
    const charts = el('div', { class: 'charts', part: 'charts' });
    const tools = el('div', { class: 'row' }, status, el('span', { class: 'spacer' }), csv);
    this.root.append(charts, tools, this.table.wrap);
    this.#ui = { status, charts, csv };
    this.#resize = new ResizeObserver(() => {
      const w = Math.floor(this.#ui.charts.getBoundingClientRect().width);
      if (w && w !== this.#width) {
        const first = this.#width === 0;
        this.#width = w;
        if (this.#result && !first) this.schedule(100);
      }
    });
  }

  connectedCallback() {
    super.connectedCallback();
    this.#resize.observe(this.#ui.charts);
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    this.#resize.disconnect();
  }

  /** The query (without the source's filters and time range, which are added). */
  get query() {
    if (this.#query) return this.#query;
    const q = { calculations: parseCalcs(this.getAttribute('calculations') || 'COUNT'), breakdowns: listAttr(this, 'breakdowns') };
    const limit = intAttr(this, 'limit', 0, 0, 10000);
    if (limit) q.limit = limit;
    return q;
  }
  set query(q) {
    this.#query = q ? structuredClone(q) : null;
    if (this.connectedOnce) this.schedule();
  }

  /** The last result (`Dataset.query`), or null. */
  get result() {
    return this.#result;
  }

  #fullSpec() {
    const q = this.query;
    const ctx = contextSpec(this.source);
    const spec = { ...q, ...ctx, filters: [...(q.filters ?? []), ...ctx.filters] };
    for (const k of ['start_time', 'end_time', 'time_range', 'filter_combination']) if (q[k] !== undefined) spec[k] = q[k];
    spec.calculations = (q.calculations ?? []).filter((c) => c.op !== 'HEATMAP');
    if (!spec.calculations.length) spec.calculations = [{ op: 'COUNT' }];
    // Day buckets start at local midnight in the element's zone.
    if (spec.time_zone === undefined) spec.time_zone = resolveTimeZone(this.#zone());
    return spec;
  }

  async refresh() {
    if (!this.ready()) return;
    const spec = this.#fullSpec();
    this.#ui.status.textContent = 'Running…';
    const t0 = performance.now();
    try {
      const lines = this.getAttribute('charts') === 'none' ? null : this.#lineOptions();
      const { result: r, charts } = await this.latest.run(() => this.source.client.breakdown(spec, lines, { channel: this.channel }));
      this.#result = r;
      this.#spec = spec;
      this.#rendered = { charts, theme: lines?.theme, dpr: lines?.options.dpr };
      const ms = performance.now() - t0;
      this.#ui.status.classList.remove('error');
      const zone = timeZoneNote(this.#zone());
      this.#ui.status.textContent =
        `${formatInt(r.results.length)} of ${formatInt(r.groups)} groups · ${formatInt(r.matched)} of ${formatInt(r.scanned)} events · ` +
        `${formatTimeRange(r.start_time, r.end_time, this.#zone())} · ${formatValue(ms, 'ms')}${zone ? ` · ${zone}` : ''}`;
      this.#fillTable();
      this.#drawCharts(r);
      emit(this, 'sightline-result', { result: r, ms });
    } catch (err) {
      if (err?.name === 'AbortError') return;
      this.#result = null;
      this.#ui.status.classList.add('error');
      this.#ui.status.textContent = displayText(err?.message || String(err));
      this.table.set([], []);
      this.#ui.charts.replaceChildren();
      emit(this, 'sightline-error', { message: err?.message || String(err) });
    }
  }

  #spec = null;

  /** The `time-zone` attribute (resolved by the formatters: IANA name, `utc`, local). */
  #zone() {
    return this.getAttribute('time-zone');
  }

  #groupKey(row, breakdowns) {
    return JSON.stringify(breakdowns.map((b) => row[b] ?? null));
  }

  #fillTable() {
    const r = this.#result;
    const breakdowns = this.#spec.breakdowns ?? [];
    const lines = readTheme(this).lines;
    const colours = new Map();
    r.results.slice(0, MAX_CHART_LINES).forEach((row, i) => colours.set(this.#groupKey(row, breakdowns), lines[i % lines.length]));
    const calcCols = r.columns.filter((c) => !breakdowns.includes(c));
    const columns = [
      ...breakdowns.map((b, i) => ({ key: b, label: b, swatch: i === 0 })),
      ...calcCols.map((c) => ({ key: c, label: c, numeric: true })),
    ];
    const rows = r.results.map((row) => ({ ...row, __colour: colours.get(this.#groupKey(row, breakdowns)) }));
    this.table.set(columns, rows);
  }

  #plain(row) {
    const out = {};
    for (const [k, v] of Object.entries(row)) if (!k.startsWith('__')) out[k] = v;
    return out;
  }

  /** The results table as CSV text (as shown, in its current sort order). */
  toCSV() {
    const cols = this.table.columns;
    return toCSV(
      cols.map((c) => c.label),
      this.table.sorted().map((r) => cols.map((c) => r[c.key] ?? null)),
    );
  }

  /** Downloads the results table as `sightline-results.csv`. */
  exportCSV(filename = 'sightline-results.csv') {
    download(new Blob([this.toCSV()], { type: 'text/csv;charset=utf-8' }), filename);
  }

  /** The n-th chart as a PNG Blob. */
  toPNG(index = 0) {
    const c = this.#charts[index];
    if (!c) return Promise.reject(new Error(`no chart ${index}`));
    return canvasBlob(c.canvas);
  }

  /** Downloads the n-th chart as PNG. */
  async exportPNG(index = 0, filename) {
    const name = filename ?? `sightline-${this.#charts[index]?.name.replace(/[^\w.-]+/g, '_') ?? 'chart'}.png`;
    download(await this.toPNG(index), name);
  }

  #rendered = null;

  /** Size, colours and time zone of the line charts, for the worker. */
  #lineOptions() {
    const theme = readTheme(this);
    const dpr = devicePixelRatio();
    const width = Math.max(240, this.#width || Math.floor(this.#ui.charts.getBoundingClientRect().width) || 600);
    const mid = this.#result ? (this.#result.start_time + this.#result.end_time) / 2 : Date.now() / 1000;
    const options = {
      width,
      height: 200,
      dpr,
      background: theme.background,
      foreground: theme.foreground,
      grid: theme.grid,
      ...renderTimeOptions(this.#zone(), mid),
    };
    if (theme.lines.length) options.lines = theme.lines;
    return { max: MAX_CHART_LINES, options, theme };
  }

  /** Draws the charts the worker rendered. */
  #drawCharts(r) {
    const rendered = this.#rendered;
    if (!r || !rendered?.charts.length) {
      this.#ui.charts.replaceChildren();
      this.#charts = [];
      return;
    }
    const { theme, dpr } = rendered;
    const zone = this.#zone();
    // Reuse the chart containers by calculation name.
    const old = new Map(this.#charts.map((c) => [c.name, c]));
    this.#charts = rendered.charts.map((c) => old.get(c.name) ?? this.#newChart(c.name));
    this.#ui.charts.replaceChildren(...this.#charts.map((c) => c.box));
    rendered.charts.forEach((c, k) => {
      const chart = this.#charts[k];
      chart.data = { series: c.series, start: c.start, granularity: c.granularity, zone, unit: c.unit };
      chart.legend.replaceChildren(
        ...c.series.map((s, i) => {
          const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
          sw.style.background = theme.lines[i % theme.lines.length] ?? '#888';
          return el('span', {}, sw, el('span', { text: displayText(s.name) }));
        }),
      );
      if (c.render) {
        drawRendered(chart.canvas, c.render, theme, dpr);
        chart.plot = c.render.plot;
        const n = c.series.length;
        chart.canvas.setAttribute('aria-label', displayText(`${c.name} over time, ${n} ${n === 1 ? 'line' : 'lines'}: ${c.series.map((s) => s.name).join(', ')}`));
      } else {
        chart.plot = null;
        drawMessage(chart.canvas, rendered.charts.width ?? 600, 200, c.error ?? 'no chart', theme);
      }
    });
  }

  #newChart(name) {
    const canvas = el('canvas', { part: 'chart', role: 'img', tabindex: '0' });
    const guide = el('div', { class: 'guide', hidden: true });
    const tip = el('div', { part: 'tooltip', hidden: true });
    const shown = displayText(name);
    const png = el('button', { type: 'button', class: 'link', text: 'PNG', 'aria-label': `Export the ${shown} chart as PNG` });
    const legend = el('div', { class: 'legend' });
    const holder = el('div', { class: 'chart' }, canvas, guide, tip);
    const box = el('figure', { class: 'figure' }, el('div', { class: 'row' }, el('h4', { text: shown }), el('span', { class: 'spacer' }), png), holder, legend);
    box.style.margin = '0 0 8px';
    const chart = { name, canvas, guide, tip, legend, box, plot: null, data: null };
    png.addEventListener('click', () => this.exportPNG(this.#charts.indexOf(chart)));
    const hover = (x) => {
      const d = chart.data;
      const p = chart.plot;
      if (!d || !p || x < p.x || x > p.x + p.w) {
        guide.hidden = true;
        tip.hidden = true;
        return;
      }
      const n = d.series[0]?.values.length ?? 0;
      const i = Math.min(n - 1, Math.max(0, Math.floor(((x - p.x) / p.w) * n)));
      const t = d.start + i * d.granularity;
      guide.hidden = false;
      guide.style.height = `${p.h}px`;
      guide.style.transform = `translate(${p.x + ((i + 0.5) * p.w) / n}px, ${p.y}px)`;
      const unit = d.unit;
      tip.replaceChildren(
        el('div', { class: 'muted', text: formatTimeRange(t, t + d.granularity, d.zone) }),
        ...d.series
          .map((s) => ({ s, v: s.values[i] }))
          .filter((x) => x.v !== null && x.v !== undefined)
          .slice(0, 10)
          .map(({ s, v }) => el('div', { text: `${displayText(s.name)}: ${formatValue(v, unit)}` })),
      );
      tip.hidden = false;
      const left = p.x + ((i + 0.5) * p.w) / n + 12;
      const W = holder.clientWidth;
      tip.style.transform = `translate(${Math.max(4, left + tip.offsetWidth > W ? left - 24 - tip.offsetWidth : left)}px, ${p.y}px)`;
    };
    canvas.addEventListener('pointermove', (e) => hover(e.clientX - canvas.getBoundingClientRect().left));
    canvas.addEventListener('pointerleave', () => hover(-1));
    return chart;
  }
}

// ---------------------------------------------------------------------------------------
// <sightline-compare>
// ---------------------------------------------------------------------------------------

/** Baselines offered by the comparison: the rest of the scope, or the same events earlier. */
const BASELINES = [
  [0, 'vs the rest'],
  [3600, 'vs previous hour'],
  [86400, 'vs previous day'],
  [604800, 'vs previous week'],
];

/** `1 hour`, `2 days`, `1 week`, `90 seconds`. */
export function periodText(seconds) {
  const units = [
    [604800, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  const [size, name] = units.find(([u]) => seconds % u === 0) ?? [1, 'second'];
  const n = seconds / size;
  return `${formatInt(n)} ${name}${n === 1 ? '' : 's'}`;
}

/**
 * `<sightline-compare>`: what is different about the selection brushed on a linked
 * heatmap (or the `spec` set here), dimensions ranked, each value's share in the
 * selection against the baseline. Clicking a value filters the source by it; "Group by"
 * fires `sightline-group-by`. The baseline is the rest of the scope, or with
 * `baseline-period` (the panel's "vs previous hour/day/week") the same events that many
 * seconds earlier: the selection's window shifted back, its filters and value range too.
 */
export class SightlineCompare extends Part {
  static observedAttributes = ['src', 'source', 'top', 'baseline-period', 'time-zone'];
  #spec = null;
  #result = null;
  #ui;

  constructor() {
    super();
    const title = el('h3', { part: 'title', text: 'Comparison' });
    const baseline = el('select', { 'aria-label': 'Baseline', part: 'baseline-select' });
    baseline.addEventListener('change', () => {
      this.baselinePeriod = Number(baseline.value);
      emit(this, 'sightline-baseline-change', { period: this.baselinePeriod });
    });
    const key = el(
      'span',
      { class: 'row' },
      el('span', { class: 'key' }, el('i', { class: 'sel' }), el('span', { text: 'selection' })),
      el('span', { class: 'key' }, el('i', { class: 'base' }), el('span', { text: 'baseline' })),
    );
    const status = el('div', { class: 'muted', part: 'status', role: 'status', 'aria-live': 'polite', text: 'Brush a region of the heatmap to compare it with the rest.' });
    const described = el('div', { class: 'muted', part: 'baseline', hidden: true });
    const empty = el('p', { class: 'empty', part: 'empty', hidden: true });
    const dims = el('div', { class: 'dims', part: 'dimensions', role: 'list', 'aria-label': 'Dimensions, most different first' });
    const measures = el('div', { part: 'measures' });
    this.root.append(el('div', { class: 'row' }, title, baseline, el('span', { class: 'spacer' }), key), status, described, empty, dims, measures);
    this.#ui = { title, baseline, status, described, empty, dims, measures };
    this.#syncBaseline();
  }

  /**
   * Seconds: the baseline is the same events this much earlier (the selection's window
   * shifted back, with its filters); 0 (the default): the rest of the scope.
   */
  get baselinePeriod() {
    const p = Number(this.getAttribute('baseline-period'));
    return Number.isFinite(p) && p > 0 ? p : 0;
  }
  set baselinePeriod(v) {
    const p = Number(v);
    if (Number.isFinite(p) && p > 0) this.setAttribute('baseline-period', String(p));
    else this.removeAttribute('baseline-period');
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'baseline-period') this.#syncBaseline();
    super.attributeChangedCallback(name, oldValue, newValue);
  }

  /** The select shows the attribute (a period not offered gets an option of its own). */
  #syncBaseline() {
    const period = this.baselinePeriod;
    const offered = BASELINES.some(([p]) => p === period);
    const choices = offered ? BASELINES : [...BASELINES, [period, `vs ${periodText(period)} earlier`]];
    this.#ui.baseline.replaceChildren(...choices.map(([p, text]) => option(String(p), text, p === period)));
    this.#ui.baseline.value = String(period);
  }

  /** The `time-zone` attribute (resolved by the formatters: IANA name, `utc`, local). */
  #zone() {
    return this.getAttribute('time-zone');
  }

  /** An explicit comparison spec (`Dataset.compare`); when null, the source's selection is compared. */
  get spec() {
    return this.#spec;
  }
  set spec(s) {
    this.#spec = s ? structuredClone(s) : null;
    if (this.connectedOnce) this.schedule();
  }

  /** The last comparison result, or null. */
  get result() {
    return this.#result;
  }

  onSource(type, detail) {
    super.onSource(type, detail);
    if (type === 'select') this.schedule();
  }

  /**
   * The spec compared: explicit, or the brushed selection within the source's context;
   * with `baseline-period`, its baseline is the same events that much earlier.
   */
  currentSpec() {
    let spec = this.#spec;
    if (!spec) {
      const sel = this.source?.selection;
      if (!sel) return null;
      const filters = [];
      if (sel.column && sel.min !== undefined) filters.push({ column: sel.column, op: '>=', value: sel.min });
      if (sel.column && sel.max !== undefined) filters.push({ column: sel.column, op: '<', value: sel.max });
      const selection = { start_time: sel.start_time, end_time: sel.end_time, filters: [...filters, ...(sel.filters ?? [])] };
      spec = { scope: contextSpec(this.source), selection, top: intAttr(this, 'top', 6, 1, 50) };
    }
    const period = this.baselinePeriod;
    return period ? { ...spec, baseline: { period } } : spec;
  }

  async refresh() {
    let spec = this.currentSpec();
    if (!spec) {
      this.#result = null;
      this.#ui.dims.replaceChildren();
      this.#ui.measures.replaceChildren();
      this.#ui.described.hidden = true;
      this.#ui.empty.hidden = true;
      this.#ui.status.textContent = 'Brush a region of the heatmap to compare it with the rest.';
      return;
    }
    if (!this.ready()) return;
    this.#ui.status.textContent = 'Comparing…';
    const t0 = performance.now();
    try {
      const r = await this.latest.run(async () => {
        spec = await this.#withWindow(spec);
        return this.source.client.compare(spec, { channel: this.channel });
      });
      this.#result = r;
      this.#render(r, spec, performance.now() - t0);
      emit(this, 'sightline-result', { result: r });
    } catch (err) {
      if (err?.name === 'AbortError') return;
      this.#result = null;
      this.#ui.status.textContent = displayText(err?.message || String(err));
      this.#ui.status.classList.add('error');
      this.#ui.described.hidden = true;
      this.#ui.empty.hidden = true;
      this.#ui.dims.replaceChildren();
      this.#ui.measures.replaceChildren();
    }
  }

  /**
   * A baseline one period earlier shifts the selection's time window, so the selection
   * needs one: a selection without times (the customer lens's "this customer vs all")
   * takes the scope's time range, as the engine resolves it.
   */
  async #withWindow(spec) {
    const sel = spec.selection ?? {};
    if (!spec.baseline?.period || (sel.start_time !== undefined && sel.end_time !== undefined)) return spec;
    const scope = {};
    for (const k of ['filters', 'filter_combination', 'start_time', 'end_time', 'time_range']) if (spec.scope?.[k] !== undefined) scope[k] = spec.scope[k];
    const q = await this.source.client.query({ ...scope, calculations: [{ op: 'COUNT' }], disable_series: true }, { channel: this.channel });
    return { ...spec, selection: { ...sel, start_time: sel.start_time ?? q.start_time, end_time: sel.end_time ?? q.end_time } };
  }

  /** What the baseline is, in words: `same filters, 1 day earlier`, with its window when known. */
  #baselineText(spec) {
    const sel = spec.selection ?? {};
    const b = spec.baseline;
    if (b?.period) {
      const window =
        sel.start_time !== undefined && sel.end_time !== undefined
          ? ` (${formatTimeRange(sel.start_time - b.period, sel.end_time - b.period, this.#zone())})`
          : '';
      return { what: `same filters, ${periodText(b.period)} earlier`, window };
    }
    if (b?.filters) return { what: 'the events of its own filters', window: '' };
    return { what: 'the rest of the scope', window: '' };
  }

  #render(r, spec, ms) {
    this.#ui.status.classList.remove('error');
    const sel = spec.selection ?? {};
    const what = sel.start_time !== undefined ? formatTimeRange(sel.start_time, sel.end_time, this.#zone()) : 'selection';
    const problem = timeZoneProblem(this.#zone());
    this.#ui.status.textContent =
      `${formatInt(r.selection_count)} selected events (${what}) vs ${formatInt(r.baseline_count)} baseline events · ${formatValue(ms, 'ms')}${problem ? ` · ${problem}` : ''}`;
    const base = this.#baselineText(spec);
    const n = r.baseline_count;
    this.#ui.described.hidden = false;
    this.#ui.described.textContent = `baseline: ${base.what}, ${formatInt(n)} ${n === 1 ? 'event' : 'events'}${base.window}`;
    // Nothing to compare with: say so instead of bars against an empty side.
    this.#ui.empty.hidden = n > 0;
    if (n === 0) {
      this.#ui.empty.textContent = spec.baseline?.period
        ? `No events ${periodText(spec.baseline.period)} earlier with the same filters, so nothing to compare with: the data may not reach back that far. Choose another baseline.`
        : 'No events in the baseline, so nothing to compare with.';
      this.#ui.dims.replaceChildren();
      this.#ui.measures.replaceChildren();
      return;
    }
    const dims = r.dimensions.filter((d) => d.values.length && d.score > 0);
    const quiet = r.dimensions.filter((d) => d.values.length && d.score === 0).map((d) => displayText(d.column));
    this.#ui.dims.replaceChildren(
      ...dims.map((d, rank) => {
        const column = displayText(d.column);
        const groupBy = el('button', { type: 'button', class: 'link', text: 'Group by', 'aria-label': `Group by ${column}` });
        groupBy.addEventListener('click', () => emit(this, 'sightline-group-by', { column: d.column }));
        const head = el(
          'header',
          {},
          el('h4', { text: `${rank + 1}. ${column}` }),
          groupBy,
          el('span', { class: 'score', text: `score ${d.score.toFixed(2)}`, title: 'total variation distance over the significant values' }),
        );
        const max = Math.max(1e-9, ...d.values.map((v) => Math.max(v.selection_share, v.baseline_share)));
        const rows = d.values.slice(0, intAttr(this, 'top', 6, 1, 50)).map((v) => {
          const name = el('button', {
            type: 'button',
            class: 'link name',
            text: cellText(v.value),
            title: `Filter: ${column} = ${cellText(v.value)}`,
          });
          name.addEventListener('click', () => {
            const filter = v.value === null ? { column: d.column, op: 'does-not-exist' } : { column: d.column, op: '=', value: v.value };
            emit(this, 'sightline-filter', { filter });
            if (!this.hasAttribute('no-filter')) this.source?.addFilter(filter, { origin: this });
          });
          const selBar = el('div', { class: 'bar sel', title: `selection ${(v.selection_share * 100).toFixed(1)}%` });
          const baseBar = el('div', { class: 'bar base', title: `baseline ${(v.baseline_share * 100).toFixed(1)}%` });
          selBar.style.width = `${(v.selection_share / max) * 100}%`;
          baseBar.style.width = `${(v.baseline_share / max) * 100}%`;
          const diff = el('span', {
            class: `diff${v.diff_pp > 0 ? ' up' : ''}`,
            text: `${v.diff_pp > 0 ? '+' : ''}${v.diff_pp.toFixed(1)}pp`,
          });
          return el(
            'div',
            {
              class: 'val',
              role: 'listitem',
              'aria-label': `${cellText(v.value)}: ${(v.selection_share * 100).toFixed(1)}% of the selection, ${(v.baseline_share * 100).toFixed(1)}% of the baseline`,
            },
            name,
            el('div', { class: 'bars', 'aria-hidden': 'true' }, selBar, baseBar),
            diff,
          );
        });
        return el('section', { class: 'dim', part: 'dimension', role: 'listitem', 'data-column': d.column }, head, ...rows);
      }),
    );
    const measures = r.measures.filter((m) => m.significant).slice(0, 6);
    this.#ui.measures.replaceChildren(
      ...(quiet.length ? [el('p', { class: 'muted', text: `No significant difference in ${quiet.join(', ')}.` })] : []),
      ...(measures.length
        ? [
            el('h4', { text: 'Measures that differ', class: 'muted' }),
            ...measures.map((m) => {
              const unit = m.column.endsWith('_ms') ? 'ms' : undefined;
              return el('div', {
                text: `${displayText(m.column)}: p50 ${formatValue(m.selection.p50, unit)} vs ${formatValue(m.baseline.p50, unit)}, p95 ${formatValue(m.selection.p95, unit)} vs ${formatValue(m.baseline.p95, unit)} (KS ${m.score.toFixed(2)})`,
              });
            }),
          ]
        : []),
    );
  }
}

// ---------------------------------------------------------------------------------------
// <sightline-events>
// ---------------------------------------------------------------------------------------

/**
 * `<sightline-events limit="100">`: the raw events behind the source's filters, newest
 * first; click one for every field of the wide event. Extra `filters` (JSON) narrow it,
 * e.g. to one customer.
 */
export class SightlineEvents extends Part {
  static observedAttributes = ['src', 'source', 'limit', 'columns', 'filters', 'time-zone'];
  #ui;
  #result = null;
  #schema = null;
  #limit = 0;

  constructor() {
    super();
    const status = el('div', { class: 'muted', part: 'status', role: 'status', 'aria-live': 'polite', text: 'No data' });
    const more = el('button', { type: 'button', text: 'Show more', hidden: true });
    more.addEventListener('click', () => {
      this.#limit = Math.min(10000, this.#effectiveLimit() * 2);
      this.schedule();
    });
    this.table = new Table('Events, newest first', (row, tr) => this.#open(row, tr));
    this.root.append(el('div', { class: 'row' }, status, el('span', { class: 'spacer' }), more), this.table.wrap);
    this.#ui = { status, more };
  }

  get filters() {
    return jsonListAttr(this, 'filters');
  }
  set filters(v) {
    this.setAttribute('filters', JSON.stringify(v ?? []));
  }

  /** The last events result `{ columns, rows, row_ids, matched }`, or null. */
  get result() {
    return this.#result;
  }

  #effectiveLimit() {
    return this.#limit || intAttr(this, 'limit', 50, 1, 10000);
  }

  onSource(type, detail) {
    if (type === 'context') this.#limit = 0;
    super.onSource(type, detail);
  }

  async refresh() {
    if (!this.ready()) return;
    const ctx = contextSpec(this.source);
    const spec = { ...ctx, filters: [...ctx.filters, ...this.filters], limit: this.#effectiveLimit(), order: 'newest' };
    const cols = listAttr(this, 'columns');
    if (cols.length) spec.columns = cols;
    try {
      const [r, schema] = await this.latest.run(() =>
        Promise.all([this.source.client.events(spec, { channel: this.channel }), this.source.schema()]),
      );
      this.#result = r;
      this.#schema = new Map(schema.map((f) => [f.name, f]));
      this.#ui.status.classList.remove('error');
      const zone = timeZoneNote(this.getAttribute('time-zone'));
      this.#ui.status.textContent = `${formatInt(r.rows.length)} newest of ${formatInt(r.matched)} matching events${zone ? ` · ${zone}` : ''}`;
      this.#ui.more.hidden = r.rows.length >= r.matched || r.rows.length >= 10000;
      const shown = cols.length ? cols.filter((c) => r.columns.includes(c)) : r.columns;
      const columns = shown.map((name) => {
        const f = this.#schema.get(name);
        const numeric = f?.role === 'number';
        return { key: name, label: name, numeric, format: (v) => cellText(v, f, this.getAttribute('time-zone')) };
      });
      const rows = r.rows.map((values, i) => {
        const o = { __id: r.row_ids[i] };
        r.columns.forEach((c, k) => {
          o[c] = values[k];
        });
        return o;
      });
      this.table.set(columns, rows);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      this.#ui.status.classList.add('error');
      this.#ui.status.textContent = displayText(err?.message || String(err));
      this.table.set([], []);
    }
  }

  #open(row, tr) {
    const next = tr.nextElementSibling;
    if (next?.classList.contains('detail')) {
      next.remove();
      tr.classList.remove('open');
      tr.removeAttribute('aria-expanded');
      return;
    }
    const fields = el('dl', { class: 'fields' });
    for (const [k, v] of Object.entries(row)) {
      if (k.startsWith('__')) continue;
      fields.append(el('dt', { text: displayText(k) }), el('dd', { text: cellText(v, this.#schema?.get(k), this.getAttribute('time-zone')) }));
    }
    const td = el('td', { colspan: String(this.table.columns.length) }, fields);
    tr.after(el('tr', { class: 'detail', part: 'event-detail' }, td));
    tr.classList.add('open');
    tr.setAttribute('aria-expanded', 'true');
    const event = {};
    for (const [k, v] of Object.entries(row)) if (!k.startsWith('__')) event[k] = v;
    emit(this, 'sightline-row-click', { row: event, rowId: row.__id, kind: 'event' });
  }
}

// ---------------------------------------------------------------------------------------
// <sightline-explorer>
// ---------------------------------------------------------------------------------------

const OPS = ['COUNT', 'COUNT_DISTINCT', 'SUM', 'AVG', 'MIN', 'MAX', 'P50', 'P75', 'P90', 'P95', 'P99', 'P999', 'HEATMAP', 'CONCURRENCY', 'RATE_AVG', 'RATE_SUM', 'RATE_MAX'];
const NO_COLUMN = new Set(['COUNT', 'CONCURRENCY']);
const FILTER_OPS = ['=', '!=', '>', '>=', '<', '<=', 'starts-with', 'does-not-start-with', 'ends-with', 'does-not-end-with', 'contains', 'does-not-contain', 'exists', 'does-not-exist', 'in', 'not-in'];
const RANGES = [
  ['', 'All time'],
  ['900', 'Last 15 minutes'],
  ['3600', 'Last hour'],
  ['21600', 'Last 6 hours'],
  ['86400', 'Last 24 hours'],
  ['604800', 'Last 7 days'],
];
const GRANULARITIES = [['', 'Auto'], ['60', '1 min'], ['300', '5 min'], ['900', '15 min'], ['3600', '1 hour'], ['86400', '1 day']];

const EXPLORER_STYLE = `
:host { --sightline-height: 300px; }
.bar-top { display: flex; gap: 10px; align-items: baseline; margin-bottom: 6px; }
.bar-top [part="status"] { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-variant-numeric: tabular-nums; }
[part="progress"] { height: 3px; background: var(--sightline-border); border-radius: 2px; overflow: hidden; margin-bottom: 10px; }
[part="progress"] .fill { height: 100%; background: var(--sightline-accent); transform-origin: left; transform: scaleX(0); transition: transform 120ms linear; }
[part="builder"] { display: grid; grid-template-columns: 110px 1fr; gap: 6px 12px; align-items: start; padding: 10px 12px; border: 1px solid var(--sightline-border); border-radius: 8px; background: var(--sightline-subtle); margin-bottom: 12px; }
[part="builder"] > .label { font-weight: 600; font-size: 12px; letter-spacing: 0.04em; padding-top: 5px; color: var(--sightline-muted); }
.clauses { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.clause { display: inline-flex; gap: 4px; align-items: center; padding: 2px; border-radius: 7px; }
.clause input { width: 140px; }
.actions { grid-column: 1 / -1; display: flex; gap: 8px; align-items: center; }
section.block { margin: 14px 0; }
section.block > h3 { margin-bottom: 6px; }
.heatmaps { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
.lens { border: 1px solid var(--sightline-accent); border-radius: 8px; padding: 10px 12px; margin-bottom: 12px; }
.lens h3 { font-size: 15px; }
.filters-bar { display: flex; gap: 6px; flex-wrap: wrap; margin-bottom: 8px; }
.chip { display: inline-flex; align-items: center; gap: 4px; border: 1px solid var(--sightline-border); border-radius: 12px; padding: 1px 4px 1px 10px; font-size: 12px; background: var(--sightline-subtle); }
.chip button { min-height: 0; border: none; background: none; padding: 0 4px; }
`;
let explorerSheet = null;
function explorerStyle() {
  if (!explorerSheet) {
    explorerSheet = new CSSStyleSheet();
    explorerSheet.replaceSync(EXPLORER_STYLE);
  }
  return explorerSheet;
}

/** An option of a select: `text` may name a column, so it is shown through displayText. */
function option(value, text, selected) {
  const o = el('option', { value, text: displayText(text) });
  o.selected = Boolean(selected);
  return o;
}

function select(label, options, value) {
  const s = el('select', { 'aria-label': label });
  s.append(...options.map(([v, t]) => option(v, t, String(v) === String(value ?? ''))));
  return s;
}

function removeButton(label, onClick) {
  const b = el('button', { type: 'button', class: 'icon', text: '×', 'aria-label': displayText(label) });
  b.addEventListener('click', onClick);
  return b;
}

function parseValue(text, op) {
  if (op === 'in' || op === 'not-in') {
    return String(text)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => (s !== '' && Number.isFinite(Number(s)) ? Number(s) : s));
  }
  const t = String(text);
  if (t.trim() !== '' && Number.isFinite(Number(t))) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  return t;
}

function valueText(v) {
  return Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v);
}

const STATE_KEY = 'sightline';

/**
 * `<sightline-explorer src="/api/demo">`: the whole experience: a query builder, a
 * heatmap or line chart per calculation, a results table, brush-to-compare, raw events,
 * and with `customer-column` and `customer` set, a lens on one customer.
 */
export class SightlineExplorer extends SourceBound {
  static observedAttributes = ['src', 'source', 'customer-column', 'customer', 'sync-url', 'time-zone'];

  #query = { calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], filters: [], breakdowns: [], orders: [], havings: [] };
  #schema = [];
  #ui;
  #root;
  #restored = false;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.adoptedStyleSheets = [partsStyle(), explorerStyle()];
    const status = el('div', { part: 'status', role: 'status', 'aria-live': 'polite', text: 'No data' });
    const fill = el('div', { class: 'fill' });
    const progress = el('div', { part: 'progress', role: 'progressbar', 'aria-label': 'Loading data', 'aria-valuemin': '0', 'aria-valuemax': '100' }, fill);
    const share = el('button', { type: 'button', text: 'Copy link', hidden: true, 'aria-label': 'Copy a link to this view' });
    share.addEventListener('click', () => navigator.clipboard?.writeText(location.href).catch(() => {}));
    const builder = el('form', { part: 'builder', 'aria-label': 'Query builder' });
    builder.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#userChange();
    });
    const lens = el('section', { class: 'lens', part: 'lens', hidden: true, 'aria-label': 'Customer lens' });
    const filtersBar = el('div', { class: 'filters-bar', part: 'filters', 'aria-label': 'Active filters' });
    const heatmaps = el('div', { class: 'heatmaps' });
    const breakdown = document.createElement('sightline-breakdown');
    breakdown.setAttribute('part', 'breakdown');
    const compareBlock = el('section', { class: 'block', hidden: true, 'aria-label': 'Comparison' });
    const compare = document.createElement('sightline-compare');
    compare.setAttribute('part', 'compare');
    compare.setAttribute('no-filter', '');
    const zoom = el('button', { type: 'button', text: 'Zoom to selection', part: 'zoom' });
    zoom.addEventListener('click', () => this.#zoom());
    const clearSel = el('button', { type: 'button', text: 'Clear selection' });
    clearSel.addEventListener('click', () => {
      this.#ui.compare.spec = null;
      this.source?.select(null, { origin: this });
      emit(this, 'sightline-select', { selection: null });
    });
    compareBlock.append(el('div', { class: 'row', part: 'selection-tools' }, el('span', { class: 'spacer' }), zoom, clearSel), compare);
    const events = document.createElement('sightline-events');
    events.setAttribute('part', 'events');
    this.#root.append(
      el('div', { class: 'bar-top' }, status, share),
      progress,
      lens,
      builder,
      filtersBar,
      el('section', { class: 'block', 'aria-label': 'Charts' }, heatmaps),
      compareBlock,
      el('section', { class: 'block', 'aria-label': 'Results' }, el('h3', { text: 'Results' }), breakdown),
      el('section', { class: 'block', 'aria-label': 'Events' }, el('h3', { text: 'Events, newest first' }), events),
    );
    this.#ui = { status, progress, fill, share, builder, lens, filtersBar, heatmaps, breakdown, compare, compareBlock, events };

    compare.addEventListener('sightline-filter', (e) => {
      e.stopPropagation();
      this.#query.filters = [...this.#query.filters.filter((f) => JSON.stringify(f) !== JSON.stringify(e.detail.filter)), e.detail.filter];
      this.#userChange();
    });
    // The baseline is part of the view (save(), the URL); the event goes on to the page.
    compare.addEventListener('sightline-baseline-change', () => this.#saveUrl());
    compare.addEventListener('sightline-group-by', (e) => {
      e.stopPropagation();
      if (!this.#query.breakdowns.includes(e.detail.column)) this.#query.breakdowns = [...this.#query.breakdowns, e.detail.column];
      this.#userChange();
    });
    this.#popstate = () => this.#readUrl(true);
  }

  #popstate;

  // --- properties ----------------------------------------------------------------------

  /** The query specification shown (Honeycomb's, with the filters and time range). */
  get query() {
    return structuredClone(this.#query);
  }
  set query(q) {
    this.#setQuery(q);
    this.#apply();
  }

  #setQuery(q) {
    const base = { calculations: [{ op: 'COUNT' }], filters: [], breakdowns: [], orders: [], havings: [] };
    this.#query = { ...base, ...structuredClone(q ?? {}) };
  }

  /** The whole view as a JSON-serializable object: query, selection, comparison baseline, lens. */
  save() {
    const state = { v: 1, query: this.query };
    const sel = this.source?.selection;
    if (sel) state.selection = sel;
    const period = this.#ui.compare.baselinePeriod;
    if (period) state.baseline = period;
    if (this.customer) state.customer = this.customer;
    if (this.customerColumn) state.customerColumn = this.customerColumn;
    return state;
  }

  /** Restores a view saved by `save()`. */
  restore(state) {
    if (!state || typeof state !== 'object') throw new TypeError('restore() takes the object save() returned');
    if (state.v !== 1) throw new Error(`unknown saved view version ${JSON.stringify(state.v)}`);
    if (state.query) this.#setQuery(state.query);
    this.#ui.compare.baselinePeriod = state.baseline ?? 0;
    if (state.customerColumn !== undefined) this.setAttribute('customer-column', state.customerColumn);
    if (state.customer !== undefined) this.setAttribute('customer', state.customer);
    else this.removeAttribute('customer');
    this.#apply();
    const s = this.source;
    if (s) {
      s.select(state.selection ?? null, { origin: this });
      this.#ui.compareBlock.hidden = !state.selection;
    }
  }

  get customerColumn() {
    return this.getAttribute('customer-column') ?? '';
  }
  set customerColumn(v) {
    this.setAttribute('customer-column', String(v));
  }
  get customer() {
    return this.getAttribute('customer') ?? '';
  }
  set customer(v) {
    if (v == null || v === '') this.removeAttribute('customer');
    else this.setAttribute('customer', String(v));
  }

  // --- lifecycle -----------------------------------------------------------------------

  connectedCallback() {
    for (const prop of ['fetchInit', 'src', 'source', 'query', 'customer', 'customerColumn']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.connectedOnce = true;
    if (this.hasAttribute('sync-url') && !this.#restored) this.#readUrl(false);
    window.addEventListener('popstate', this.#popstate);
    if (!this.source && this.src) this.ensureSource();
    this.connectSource();
    this.#link();
    this.#apply();
  }

  disconnectedCallback() {
    window.removeEventListener('popstate', this.#popstate);
    this.disconnectSource();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === 'src') return this.srcChanged(newValue);
    if (name === 'source') {
      if (this.isConnected) {
        this.connectSource();
        this.#link();
      }
      return;
    }
    if (!this.connectedOnce) return;
    this.#apply();
    if (name === 'time-zone') this.#showStatus();
  }

  /** Gives the inner parts this explorer's source. */
  #link() {
    const s = this.source;
    if (!s) return;
    for (const part of [this.#ui.breakdown, this.#ui.compare, this.#ui.events, ...this.#root.querySelectorAll('sightline-heatmap')]) {
      if (part.source !== s) part.source = s;
    }
  }

  onSource(type, detail) {
    if (type === 'bind') this.#link();
    if (type === 'select') {
      // A selection (brushed here, restored, or set on the source) opens the comparison.
      if (detail.selection) this.#ui.compare.spec = null;
      this.#ui.compareBlock.hidden = !detail.selection && !this.#ui.compare.spec;
      this.#saveUrl();
    }
    if (type === 'progress' || type === 'state' || type === 'ready' || type === 'error' || type === 'computed') this.#showStatus();
    if (type === 'progress' && this.ownsSource) emit(this, 'sightline-progress', detail);
    if (type === 'error' && this.ownsSource) emit(this, 'sightline-error', detail);
    if (type === 'ready') {
      if (this.ownsSource) emit(this, 'sightline-ready', detail);
      this.source.schema().then(
        (schema) => {
          this.#schema = schema;
          this.#buildForm();
        },
        () => {},
      );
    }
  }

  #showStatus() {
    const s = this.source;
    const { status, fill, progress } = this.#ui;
    if (!s) return;
    let frac = s.state === 'ready' ? 1 : 0;
    if (s.state === 'loading') {
      frac = s.totalRows ? s.rows / s.totalRows : s.totalBytes ? s.bytes / s.totalBytes : 0;
      const of = s.totalRows ? ` of ${formatInt(s.totalRows)}` : '';
      status.textContent = `Loading ${formatInt(s.rows)}${of} rows · ${formatValue(s.bytes, 'B')}`;
    } else if (s.state === 'ready') {
      const problem = timeZoneProblem(this.getAttribute('time-zone'));
      // Where the answers come from: the events in this tab, or the server's engine.
      const loaded = s.remote
        ? `${formatInt(s.rows)} events on ${s.remote.engine === 'ClickHouse' ? 'ClickHouse' : 'the server'} (computed there, not downloaded)`
        : `${formatInt(s.rows)} events · ${formatValue(s.bytes, 'B')} in ${formatValue(s.loadMs, 'ms')}`;
      const c = s.computed;
      const last = c
        ? ` · last answer: ${c.where === 'browser' ? 'in this tab' : c.where}, ${formatInt(c.rows ?? 0)} events, ${formatValue(c.ms, 'ms')}`
        : '';
      status.textContent = `${loaded}${last}${problem ? ` · ${problem}` : ''}`;
    } else if (s.state === 'error') {
      status.textContent = `${displayText(s.error)}${s.rows ? ` · ${formatInt(s.rows)} events loaded before it stay` : ''}`;
      status.classList.add('error');
    }
    if (s.state !== 'error') status.classList.remove('error');
    fill.style.transform = `scaleX(${Math.min(1, Math.max(0, frac))})`;
    progress.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
    progress.hidden = s.state === 'ready';
  }

  // --- applying the query --------------------------------------------------------------

  #lensFilter() {
    const col = this.customerColumn;
    const value = this.customer;
    return col && value ? { column: col, op: '=', value } : null;
  }

  /** Pushes the query to the parts: context on the source, calculations to the charts. */
  #apply() {
    const q = this.#query;
    const s = this.source;
    if (s) {
      const ctx = { filters: q.filters ?? [] };
      for (const k of ['filter_combination', 'start_time', 'end_time', 'time_range']) if (q[k] !== undefined && q[k] !== null) ctx[k] = q[k];
      if (JSON.stringify(ctx) !== JSON.stringify(s.context)) s.setContext(ctx, { origin: this });
    }
    // One heatmap per HEATMAP calculation.
    const heatCols = q.calculations.filter((c) => c.op === 'HEATMAP' && c.column).map((c) => c.column);
    const existing = [...this.#ui.heatmaps.querySelectorAll('sightline-heatmap')];
    const tz = this.getAttribute('time-zone');
    const maps = heatCols.map((col, i) => {
      const h = existing[i] ?? document.createElement('sightline-heatmap');
      if (h.column !== col) h.column = col;
      h.setAttribute('part', 'heatmap');
      if (tz) h.setAttribute('time-zone', tz);
      else h.removeAttribute('time-zone');
      return h;
    });
    // Re-inserting an element disconnects and reconnects it: only touch what changed.
    if (maps.length !== existing.length || maps.some((m, i) => m !== existing[i])) this.#ui.heatmaps.replaceChildren(...maps);
    const rest = { ...q, calculations: q.calculations.filter((c) => c.op !== 'HEATMAP'), filters: [] };
    for (const k of ['filter_combination', 'start_time', 'end_time', 'time_range']) delete rest[k];
    if (!rest.calculations.length) rest.calculations = [{ op: 'COUNT' }];
    this.#ui.breakdown.query = rest;
    for (const part of [this.#ui.breakdown, this.#ui.compare, this.#ui.events]) {
      if (tz) part.setAttribute('time-zone', tz);
      else part.removeAttribute('time-zone');
    }
    this.#applyLens();
    this.#link();
    this.#buildForm();
    this.#showFilters();
    this.#saveUrl();
  }

  #lensKey = '';

  #applyLens() {
    const f = this.#lensFilter();
    const { lens, events } = this.#ui;
    const key = JSON.stringify([f, this.heatCol(), this.getAttribute('time-zone')]);
    if (key === this.#lensKey) return;
    this.#lensKey = key;
    events.filters = f ? [f] : [];
    if (!f) {
      lens.hidden = true;
      lens.replaceChildren();
      return;
    }
    lens.hidden = false;
    const col = this.heatCol();
    const mine = document.createElement('sightline-heatmap');
    mine.column = col;
    mine.filters = [f];
    mine.setAttribute('label', displayText(`${f.value}: ${col}`));
    mine.setAttribute('part', 'lens-heatmap');
    const all = document.createElement('sightline-heatmap');
    all.column = col;
    all.setAttribute('label', displayText(`Everyone: ${col}`));
    const tz = this.getAttribute('time-zone');
    if (tz) {
      mine.setAttribute('time-zone', tz);
      all.setAttribute('time-zone', tz);
    }
    const compareBtn = el('button', { type: 'button', class: 'primary', text: 'Compare this customer vs all', part: 'lens-compare' });
    compareBtn.addEventListener('click', () => this.compareCustomer());
    const clear = el('button', { type: 'button', text: 'Close lens' });
    clear.addEventListener('click', () => {
      this.removeAttribute('customer');
      emit(this, 'sightline-query-change', { query: this.query, customer: null });
    });
    lens.replaceChildren(
      el('div', { class: 'row' }, el('h3', { text: displayText(`Customer ${f.value}`) }), el('span', { class: 'muted', text: displayText(`${f.column} = ${f.value}`) }), el('span', { class: 'spacer' }), compareBtn, clear),
      el('div', { class: 'heatmaps' }, mine, all),
    );
    mine.source = this.source;
    all.source = this.source;
  }

  heatCol() {
    return this.#query.calculations.find((c) => c.op === 'HEATMAP')?.column ?? 'duration_ms';
  }

  /** Narrows the time range to the brushed selection (and clears it). */
  #zoom() {
    const sel = this.source?.selection;
    if (!sel) return;
    this.#query.start_time = sel.start_time;
    this.#query.end_time = sel.end_time;
    delete this.#query.time_range;
    delete this.#query.granularity;
    this.source.select(null, { origin: this });
    this.#userChange();
  }

  /** Compares the lens customer's events with everyone else's (within the filters). */
  compareCustomer() {
    const f = this.#lensFilter();
    if (!f || !this.source) return;
    const scope = contextSpec(this.source);
    this.#ui.compare.spec = { scope, selection: { filters: [f] }, top: 6 };
    this.#ui.compareBlock.hidden = false;
    this.#ui.compareBlock.scrollIntoView?.({ block: 'nearest' });
  }

  #showFilters() {
    const q = this.#query;
    this.#ui.filtersBar.replaceChildren(
      ...q.filters.map((f, i) =>
        el(
          'span',
          { class: 'chip' },
          el('span', { text: displayText(`${f.column} ${f.op}${f.value === undefined ? '' : ` ${valueText(f.value)}`}`) }),
          removeButton(`Remove filter ${f.column} ${f.op}`, () => {
            q.filters.splice(i, 1);
            this.#userChange();
          }),
        ),
      ),
    );
  }

  #userChange() {
    this.#apply();
    emit(this, 'sightline-query-change', { query: this.query });
  }

  // --- URL state -----------------------------------------------------------------------

  #saveUrl() {
    if (!this.hasAttribute('sync-url') || !this.connectedOnce) return;
    const params = new URLSearchParams(location.hash.slice(1));
    params.set(STATE_KEY, JSON.stringify(this.save()));
    const url = `${location.pathname}${location.search}#${params.toString()}`;
    if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(history.state, '', url);
    this.#ui.share.hidden = false;
  }

  #readUrl(apply) {
    const raw = new URLSearchParams(location.hash.slice(1)).get(STATE_KEY);
    if (!raw) return;
    try {
      const state = JSON.parse(raw);
      this.#restored = true;
      if (state.query) this.#setQuery(state.query);
      this.#ui.compare.baselinePeriod = state.baseline ?? 0;
      if (state.customerColumn) this.setAttribute('customer-column', state.customerColumn);
      if (state.customer) this.setAttribute('customer', state.customer);
      this.#pendingSelection = state.selection ?? null;
      if (apply) this.restore(state);
    } catch (err) {
      emit(this, 'sightline-error', { message: `the link's view could not be read: ${err.message}` });
    }
  }

  #pendingSelection = null;

  // --- the query builder ---------------------------------------------------------------

  #columns(pred = () => true) {
    return this.#schema.filter(pred).map((f) => [f.name, f.name]);
  }

  #buildForm() {
    const form = this.#ui.builder;
    if (this.#pendingSelection && this.source?.state === 'ready') {
      const sel = this.#pendingSelection;
      this.#pendingSelection = null;
      this.source.select(sel, { origin: this });
      this.#ui.compareBlock.hidden = false;
    }
    if (form.contains(this.#root.activeElement) && form.dataset.built === JSON.stringify(this.#query)) return;
    form.dataset.built = JSON.stringify(this.#query);
    const q = this.#query;
    const all = this.#columns((f) => f.role !== 'other');
    const numeric = this.#columns((f) => f.role === 'number');
    // Strings, booleans and integers group; floats (durations, sizes) do not.
    const groupable = this.#columns((f) => f.role === 'string' || f.role === 'bool' || (f.role === 'number' && /^U?Int/.test(f.type)));
    const rerun = () => this.#userChange();

    const calcs = el('div', { class: 'clauses' });
    q.calculations.forEach((c, i) => {
      const op = select('Calculation', OPS.map((o) => [o, o]), c.op);
      const col = select('Column', [['', '—'], ...numeric], c.column ?? '');
      col.hidden = NO_COLUMN.has(c.op);
      op.addEventListener('change', () => {
        c.op = op.value;
        if (NO_COLUMN.has(c.op)) delete c.column;
        else c.column = col.value || numeric[0]?.[0];
        rerun();
      });
      col.addEventListener('change', () => {
        c.column = col.value;
        rerun();
      });
      calcs.append(el('span', { class: 'clause' }, op, col, removeButton(`Remove ${calcName(c)}`, () => {
        q.calculations.splice(i, 1);
        if (!q.calculations.length) q.calculations.push({ op: 'COUNT' });
        rerun();
      })));
    });
    const addCalc = el('button', { type: 'button', text: '+', 'aria-label': 'Add a calculation' });
    addCalc.addEventListener('click', () => {
      q.calculations.push({ op: 'P95', column: numeric[0]?.[0] ?? 'duration_ms' });
      rerun();
    });
    calcs.append(addCalc);

    const where = el('div', { class: 'clauses' });
    q.filters.forEach((f, i) => {
      const col = select('Filter column', all, f.column);
      const op = select('Filter operator', FILTER_OPS.map((o) => [o, o]), f.op);
      // A value from the data (a click in the comparison) may hold invisible characters:
      // the field shows it through displayText, and an unedited field keeps the raw value.
      const shown = displayText(valueText(f.value));
      const value = el('input', { type: 'text', 'aria-label': 'Filter value', value: shown });
      value.hidden = f.op === 'exists' || f.op === 'does-not-exist';
      const update = () => {
        f.column = col.value;
        f.op = op.value;
        if (f.op === 'exists' || f.op === 'does-not-exist') delete f.value;
        else f.value = parseValue(value.value === shown ? valueText(f.value) : value.value, f.op);
        rerun();
      };
      col.addEventListener('change', update);
      op.addEventListener('change', update);
      value.addEventListener('change', update);
      where.append(el('span', { class: 'clause' }, col, op, value, removeButton(`Remove filter on ${f.column}`, () => {
        q.filters.splice(i, 1);
        rerun();
      })));
    });
    const comb = select('Combine filters with', [['AND', 'all (AND)'], ['OR', 'any (OR)']], q.filter_combination ?? 'AND');
    comb.hidden = q.filters.length < 2;
    comb.addEventListener('change', () => {
      q.filter_combination = comb.value;
      rerun();
    });
    const addFilter = el('button', { type: 'button', text: '+', 'aria-label': 'Add a filter' });
    addFilter.addEventListener('click', () => {
      q.filters.push({ column: all[0]?.[0] ?? 'endpoint', op: 'exists' });
      rerun();
    });
    where.append(comb, addFilter);

    const group = el('div', { class: 'clauses' });
    q.breakdowns.forEach((b, i) => {
      const s = select('Group by column', groupable, b);
      s.addEventListener('change', () => {
        q.breakdowns[i] = s.value;
        rerun();
      });
      group.append(el('span', { class: 'clause' }, s, removeButton(`Remove group by ${b}`, () => {
        q.breakdowns.splice(i, 1);
        q.orders = (q.orders ?? []).filter((o) => o.op || o.column !== b);
        rerun();
      })));
    });
    const addGroup = el('button', { type: 'button', text: '+', 'aria-label': 'Add a group by column' });
    addGroup.addEventListener('click', () => {
      const next = groupable.find(([n]) => !q.breakdowns.includes(n));
      if (next) q.breakdowns.push(next[0]);
      rerun();
    });
    group.append(addGroup);

    const orderChoices = [
      ['', 'default'],
      ...q.calculations.filter((c) => c.op !== 'HEATMAP').map((c) => [JSON.stringify({ op: c.op, column: c.column }), calcName(c)]),
      ...q.breakdowns.map((b) => [JSON.stringify({ column: b }), b]),
    ];
    const o0 = q.orders?.[0];
    const orderSel = select('Order by', orderChoices, o0 ? JSON.stringify(o0.op ? { op: o0.op, column: o0.column } : { column: o0.column }) : '');
    const dir = select('Order direction', [['descending', 'descending'], ['ascending', 'ascending']], o0?.order ?? 'descending');
    const setOrder = () => {
      q.orders = orderSel.value ? [{ ...JSON.parse(orderSel.value), order: dir.value }] : [];
      rerun();
    };
    orderSel.addEventListener('change', setOrder);
    dir.addEventListener('change', setOrder);
    const limit = el('input', { type: 'number', min: '1', max: '10000', 'aria-label': 'Limit', value: String(q.limit ?? 100) });
    limit.style.width = '80px';
    limit.addEventListener('change', () => {
      const n = Math.round(Number(limit.value));
      if (n >= 1 && n <= 10000) q.limit = n;
      rerun();
    });
    const order = el('div', { class: 'clauses' }, orderSel, dir, el('span', { class: 'muted', text: 'limit' }), limit);

    const having = el('div', { class: 'clauses' });
    (q.havings ?? []).forEach((h, i) => {
      const calc = select('Having calculation', q.calculations.filter((c) => c.op !== 'HEATMAP').map((c) => [JSON.stringify({ op: c.op, column: c.column }), calcName(c)]), JSON.stringify({ op: h.calculate_op, column: h.column }));
      const op = select('Having operator', ['>', '>=', '<', '<=', '=', '!='].map((o) => [o, o]), h.op);
      const value = el('input', { type: 'number', 'aria-label': 'Having value', value: String(h.value ?? 0) });
      value.style.width = '90px';
      const update = () => {
        const c = JSON.parse(calc.value);
        h.calculate_op = c.op;
        if (c.column) h.column = c.column;
        else delete h.column;
        h.op = op.value;
        h.value = Number(value.value);
        rerun();
      };
      calc.addEventListener('change', update);
      op.addEventListener('change', update);
      value.addEventListener('change', update);
      having.append(el('span', { class: 'clause' }, calc, op, value, removeButton('Remove having', () => {
        q.havings.splice(i, 1);
        rerun();
      })));
    });
    const addHaving = el('button', { type: 'button', text: '+', 'aria-label': 'Add a having clause' });
    addHaving.addEventListener('click', () => {
      const c = q.calculations.find((x) => x.op !== 'HEATMAP') ?? { op: 'COUNT' };
      q.havings = [...(q.havings ?? []), { calculate_op: c.op, ...(c.column ? { column: c.column } : {}), op: '>', value: 0 }];
      rerun();
    });
    having.append(addHaving);

    const custom = q.start_time !== undefined || q.end_time !== undefined;
    const rangeOptions = custom ? [['custom', 'Custom range'], ...RANGES] : RANGES;
    const range = select('Time range', rangeOptions, custom ? 'custom' : (q.time_range ?? ''));
    range.addEventListener('change', () => {
      if (range.value === 'custom') return;
      if (range.value) q.time_range = Number(range.value);
      else delete q.time_range;
      delete q.start_time;
      delete q.end_time;
      rerun();
    });
    const gran = select('Granularity', GRANULARITIES, q.granularity ?? '');
    gran.addEventListener('change', () => {
      if (gran.value) q.granularity = Number(gran.value);
      else delete q.granularity;
      rerun();
    });
    const time = el('div', { class: 'clauses' }, range, el('span', { class: 'muted', text: 'granularity' }), gran);
    if (custom) {
      time.append(el('span', { class: 'muted', text: formatTimeRange(q.start_time ?? 0, q.end_time ?? 0, this.getAttribute('time-zone')) }));
    }

    const run = el('button', { type: 'submit', class: 'primary', text: 'Run query' });
    const label = (t) => el('div', { class: 'label', text: t });
    form.replaceChildren(
      label('VISUALIZE'), calcs,
      label('WHERE'), where,
      label('GROUP BY'), group,
      label('ORDER BY'), order,
      label('HAVING'), having,
      label('TIME'), time,
      el('div', { class: 'actions' }, run, el('span', { class: 'muted', text: this.#schema.length ? '' : 'Columns appear when the data has loaded.' })),
    );
  }

  /** The results table as CSV text. */
  toCSV() {
    return this.#ui.breakdown.toCSV();
  }
  /** Downloads the results table as CSV. */
  exportCSV(filename) {
    return this.#ui.breakdown.exportCSV(filename);
  }
  /** Downloads a chart as PNG: the first heatmap by default. */
  async exportPNG(filename = 'sightline-heatmap.png') {
    const h = this.#ui.heatmaps.querySelector('sightline-heatmap');
    if (!h) return this.#ui.breakdown.exportPNG(0, filename);
    download(await h.toPNG(), filename);
  }
}



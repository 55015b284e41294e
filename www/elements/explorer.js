// <sightline-explorer>: the whole experience, built from the parts: query builder,
// heatmap, breakdown, comparison, events, customer lens, saved and shared state.
//
// Data-derived text only goes through textContent, attribute values and canvas fillText.

import { displayText, el, emit, option, select, formatInt, formatTimeRange, formatValue, lazySheet, timeZoneProblem, writeHashLater } from '../shared/ui.js';
import { defaultColumns } from '../shared/columns.js';
import { calcName } from '../shared/spec-text.js';
import { filterChip, removeButton, selectionChip, valueText } from '../shared/chips.js';
import { partsStyle } from './part.js';
import { SourceBound, contextSpec, elementById, loadMarkers } from './source-bound.js';
import { download, toCSV } from './table.js';
// The engine's operator lists, generated from its Rust source by the build: the menus
// offer exactly what the engine accepts.
import { CALCULATION_OPS, FILTER_OPS, HAVING_OPS } from '../engine/spec.js';

const NO_COLUMN = new Set(['COUNT', 'CONCURRENCY']);
const RANGES = [
  ['', 'All time'],
  ['900', 'Last 15 minutes'],
  ['3600', 'Last hour'],
  ['21600', 'Last 6 hours'],
  ['86400', 'Last 24 hours'],
  ['604800', 'Last 7 days'],
];
/** Time comparison offsets (`compare_time_offset_seconds`), as the TIME row offers them. */
const EARLIER = [['', 'no comparison'], ['3600', '1 hour ago'], ['86400', '1 day ago'], ['604800', '1 week ago']];
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
.clause input.expression { width: min(420px, 60vw); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.field-error { flex-basis: 100%; color: var(--sightline-error, #cf222e); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: pre-wrap; }
.actions { grid-column: 1 / -1; display: flex; gap: 8px; align-items: center; }
section.block { margin: 14px 0; }
section.block > h3 { margin-bottom: 6px; }
.heatmaps { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
.lens { border: 1px solid var(--sightline-accent); border-radius: 8px; padding: 10px 12px; margin-bottom: 12px; }
.lens h3 { font-size: 15px; }
`;
const explorerStyle = lazySheet(EXPLORER_STYLE);




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

/** `16:00–16:30 UTC, duration_ms 1.1s to 20s` for a brushed selection. */

const STATE_KEY = 'sightline';

/**
 * `<sightline-explorer src="/api/demo">`: the whole experience: a query builder, a
 * heatmap or line chart per calculation, a results table, brush-to-compare, raw events,
 * and with `customer-column` and `customer` set, a lens on one customer.
 */
export class SightlineExplorer extends SourceBound {
  static observedAttributes = ['src', 'source', 'value-column', 'time-column', 'customer-column', 'customer', 'sync-url', 'time-zone', 'markers', 'board'];

  // Until the data's schema is known (or the page sets `query`), the calculations are
  // the default view's: HEATMAP and P99 of the value column, and COUNT.
  #query = { calculations: [{ op: 'COUNT' }], filters: [], breakdowns: [], orders: [], havings: [] };
  #defaultView = true;
  #schema = [];
  #defaults = { value: null, time: null, customer: null };
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
    const toBoard = el('button', { type: 'button', part: 'save-to-board', text: 'Save to board', hidden: true, 'aria-label': 'Save this view to the board' });
    toBoard.addEventListener('click', () => this.saveToBoard());
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
    // One request's trace, opened from its trace id in the events table.
    const trace = document.createElement('sightline-trace');
    trace.setAttribute('part', 'trace');
    const closeTrace = el('button', { type: 'button', text: 'Close trace', 'aria-label': 'Close the trace' });
    const traceBlock = el(
      'section',
      { class: 'block', hidden: true, 'aria-label': 'Trace' },
      el('div', { class: 'row' }, el('h3', { text: 'Trace' }), el('span', { class: 'spacer' }), closeTrace),
      trace,
    );
    closeTrace.addEventListener('click', () => {
      traceBlock.hidden = true;
      trace.traceId = '';
    });
    events.addEventListener('sightline-trace-open', (e) => {
      e.preventDefault();
      trace.traceId = e.detail.traceId;
      traceBlock.hidden = false;
      traceBlock.scrollIntoView?.({ block: 'nearest' });
    });
    this.#root.append(
      el('div', { class: 'bar-top' }, status, toBoard, share),
      progress,
      lens,
      builder,
      filtersBar,
      el('section', { class: 'block', 'aria-label': 'Charts' }, heatmaps),
      compareBlock,
      el('section', { class: 'block', 'aria-label': 'Results' }, el('h3', { text: 'Results' }), breakdown),
      el('section', { class: 'block', 'aria-label': 'Events' }, el('h3', { text: 'Events, newest first' }), events),
      traceBlock,
    );
    this.#ui = { status, progress, fill, share, toBoard, builder, lens, filtersBar, heatmaps, breakdown, compare, compareBlock, events, trace, traceBlock };

    compare.addEventListener('sightline-filter', (e) => {
      e.stopPropagation();
      this.#query.filters = [...this.#query.filters.filter((f) => JSON.stringify(f) !== JSON.stringify(e.detail.filter)), e.detail.filter];
      this.#userChange();
    });
    // The baseline is part of the view (save(), the URL); the event goes on to the page.
    compare.addEventListener('sightline-baseline-change', () => this.#saveUrl());
    // Crossfilter: a click on a result row filters every part by that group's values
    // (removable chips); the event goes on to the page.
    breakdown.addEventListener('sightline-row-click', (e) => {
      if (e.detail.kind !== 'result') return;
      const row = e.detail.row;
      const add = (this.#query.breakdowns ?? [])
        .filter((b) => b in row)
        .map((b) => (row[b] === null || row[b] === undefined ? { column: b, op: 'does-not-exist' } : { column: b, op: '=', value: row[b] }));
      if (!add.length) return;
      const key = (f) => JSON.stringify([f.column, f.op, f.value]);
      const have = new Set(this.#query.filters.map(key));
      this.#query.filters = [...this.#query.filters, ...add.filter((f) => !have.has(key(f)))];
      this.#userChange();
    });
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
    this.#defaultView = false;
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
  /**
   * The current view as board panels: a heatmap panel per HEATMAP calculation and a line
   * panel with the other calculations, each with the view's filters and calculated
   * fields. Fires `sightline-save-to-board` `{ panels }` (cancelable); unless cancelled,
   * adds them to the `<sightline-board>` the `board` attribute names. Returns the panels.
   */
  saveToBoard() {
    const q = this.#query;
    const base = {};
    if (q.filters?.length) base.filters = structuredClone(q.filters);
    if (q.filter_combination) base.filter_combination = q.filter_combination;
    const fields = (q.calculated_fields ?? []).filter((f) => f.name && f.expression);
    if (fields.length) base.calculated_fields = structuredClone(fields);
    const panels = q.calculations
      .filter((c) => c.op === 'HEATMAP' && c.column)
      .map((c) => ({ kind: 'heatmap', query: { ...structuredClone(base), calculations: [{ op: 'HEATMAP', column: c.column }] } }));
    const rest = q.calculations.filter((c) => c.op !== 'HEATMAP');
    if (rest.length) {
      const query = { ...structuredClone(base), calculations: structuredClone(rest), breakdowns: [...(q.breakdowns ?? [])] };
      for (const k of ['orders', 'havings', 'limit', 'granularity', 'formulas', 'compare_time_offset_seconds']) if (q[k] !== undefined) query[k] = structuredClone(q[k]);
      panels.push({ kind: 'line', query });
    }
    const event = new CustomEvent('sightline-save-to-board', { bubbles: true, composed: true, cancelable: true, detail: { panels } });
    if (!this.dispatchEvent(event)) return panels;
    const id = this.getAttribute('board');
    const target = id ? elementById(this, id) : null;
    if (target?.addPanel) {
      target.addPanel(...panels);
      this.#ui.status.textContent = `Saved ${panels.length} ${panels.length === 1 ? 'panel' : 'panels'} to the board`;
    }
    return panels;
  }

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

  /** The `customer-column` attribute, else a customer-like string column of the schema (`customer_id`, `app.tenant_id`). */
  get customerColumn() {
    return this.#named('customer-column', this.#defaults.customer) ?? '';
  }

  /**
   * The column an attribute names, or `fallback` (the schema's choice) when the loaded
   * data has no such column: a default written for other data draws what this data has,
   * and the status says so (`#missing`), instead of an error in every part.
   */
  #named(attr, fallback) {
    const name = this.getAttribute(attr);
    if (name === null) return fallback;
    if (name === '' || !this.#schema.length || this.#schema.some((f) => f.name === name)) return name;
    return fallback;
  }

  /** `value-column "duration_ms" is not in the data: using "duration"`, for each attribute that misses. */
  #missing() {
    const used = { 'value-column': this.#defaults.value, 'time-column': this.#defaults.time, 'customer-column': this.#defaults.customer };
    return Object.entries(used)
      .filter(([attr]) => {
        const name = this.getAttribute(attr);
        return name && this.#schema.length && !this.#schema.some((f) => f.name === name);
      })
      .map(([attr, col]) => `${attr} "${this.getAttribute(attr)}" is not in the data: ${col ? `using "${col}"` : 'none used'}`);
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
    if (this.getAttribute('markers')) loadMarkers(this.source, this.getAttribute('markers'), this.fetchInit);
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
    if (name === 'board') {
      this.#ui.toBoard.hidden = !newValue;
      return;
    }
    if (name === 'markers') {
      if (this.connectedOnce) loadMarkers(this.source, newValue, this.fetchInit);
      return;
    }
    if (name === 'source') {
      if (this.isConnected) {
        this.connectSource();
        this.#link();
      }
      return;
    }
    if (!this.connectedOnce) return;
    if (name === 'value-column' && this.#defaultView) this.#query.calculations = this.#defaultCalculations();
    this.#apply();
    if (name === 'time-zone') this.#showStatus();
  }

  /** Gives the inner parts this explorer's source. */
  #link() {
    const s = this.source;
    if (!s) return;
    for (const part of [this.#ui.breakdown, this.#ui.compare, this.#ui.events, this.#ui.trace, ...this.#root.querySelectorAll('sightline-heatmap')]) {
      if (part.source !== s) part.source = s;
    }
  }

  onSource(type, detail) {
    if (type === 'bind') this.#link();
    if (type === 'select') {
      // A selection (brushed here, restored, or set on the source) opens the comparison.
      if (detail.selection) this.#ui.compare.spec = null;
      this.#ui.compareBlock.hidden = !detail.selection && !this.#ui.compare.spec;
      this.#showFilters();
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
          this.#defaults = defaultColumns(schema);
          if (this.#defaultView) this.#query.calculations = this.#defaultCalculations();
          this.#apply();
          this.#showStatus();
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
      const missing = this.#missing().map((m) => ` · ${m}`).join('');
      status.textContent = displayText(`${loaded}${last}${problem ? ` · ${problem}` : ''}${missing}`);
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
      for (const k of ['filter_combination', 'start_time', 'end_time', 'time_range', 'time_column']) if (q[k] !== undefined && q[k] !== null) ctx[k] = q[k];
      // Calculated fields are columns of every part of this source: the context carries them.
      const fields = (q.calculated_fields ?? []).filter((f) => f.name && f.expression);
      if (fields.length) ctx.calculated_fields = fields;
      // The time column every part uses: the query's, else the `time-column` attribute, else the data's own.
      const timeColumn = this.#named('time-column', null);
      if (ctx.time_column === undefined && timeColumn) ctx.time_column = timeColumn;
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
    for (const k of ['filter_combination', 'start_time', 'end_time', 'time_range', 'time_column', 'calculated_fields']) delete rest[k];
    if (!rest.calculations.length) rest.calculations = [{ op: 'COUNT' }];
    this.#ui.breakdown.query = rest;
    for (const part of [this.#ui.breakdown, this.#ui.compare, this.#ui.events, this.#ui.trace]) {
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
    return this.#query.calculations.find((c) => c.op === 'HEATMAP')?.column ?? this.#valueColumn() ?? '';
  }

  /** The `value-column` attribute, else a latency-like number column of the schema. */
  #valueColumn() {
    return this.#named('value-column', this.#defaults.value) || this.#defaults.value;
  }

  /** The default view: HEATMAP and P99 of the value column, and COUNT (COUNT alone without one). */
  #defaultCalculations() {
    const v = this.#valueColumn();
    return v ? [{ op: 'HEATMAP', column: v }, { op: 'COUNT' }, { op: 'P99', column: v }] : [{ op: 'COUNT' }];
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
    // A brush left from before compared something else: clear it, with its box.
    if (this.source.selection) this.source.select(null, { origin: this });
    const scope = contextSpec(this.source);
    this.#ui.compare.spec = { scope, selection: { filters: [f] }, top: 6 };
    this.#ui.compareBlock.hidden = false;
    this.#ui.compareBlock.scrollIntoView?.({ block: 'nearest' });
  }

  #showFilters() {
    const q = this.#query;
    // The brushed selection narrows every linked part (crossfilter): a chip that clears it.
    const sel = this.source?.selection;
    const clear = () => {
      this.source?.select(null, { origin: this });
      emit(this, 'sightline-select', { selection: null });
    };
    this.#ui.filtersBar.replaceChildren(
      ...(sel ? [selectionChip(sel, this.getAttribute('time-zone'), clear)] : []),
      ...q.filters.map((f, i) =>
        filterChip(f, () => {
          q.filters.splice(i, 1);
          this.#userChange();
        }),
      ),
    );
  }


  #userChange() {
    this.#defaultView = false;
    this.#apply();
    emit(this, 'sightline-query-change', { query: this.query });
  }

  // --- URL state -----------------------------------------------------------------------

  #saveUrl() {
    if (!this.hasAttribute('sync-url') || !this.connectedOnce) return;
    writeHashLater(STATE_KEY, () => JSON.stringify(this.save()));
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
    // Calculated fields are offered everywhere; the engine says when one does not fit.
    const fields = (this.#query.calculated_fields ?? []).filter((f) => f.name).map((f) => [f.name, f.name]);
    return [...this.#schema.filter(pred).map((f) => [f.name, f.name]), ...fields];
  }

  #fieldCheck = { key: '', error: null };

  /**
   * Checks the calculated fields by running them (one COUNT): resolves with the engine's
   * error message, naming the field and the position in its expression, or null.
   */
  #checkFields(fields) {
    const key = JSON.stringify([this.source?.version, fields]);
    if (this.#fieldCheck.key === key) return Promise.resolve(this.#fieldCheck.error);
    const spec = { calculated_fields: fields, calculations: [{ op: 'COUNT' }], limit: 1, disable_series: true };
    return this.source.client.query(spec, { channel: 'calculated-fields' }).then(
      () => null,
      (e) => (e?.name === 'AbortError' ? undefined : e?.message ?? String(e)),
    ).then((error) => {
      if (error !== undefined) this.#fieldCheck = { key, error };
      return error ?? null;
    });
  }

  /** The CALCULATED row: a name and an expression per field, the engine's error shown under them. */
  #calculatedEditor(q, rerun) {
    const wrap = el('div', { class: 'clauses', part: 'calculated-fields' });
    q.calculated_fields ??= [];
    const error = el('div', { class: 'field-error', role: 'alert', hidden: '' });
    q.calculated_fields.forEach((f, i) => {
      const name = el('input', { type: 'text', 'aria-label': 'Calculated field name', placeholder: 'name', value: f.name ?? '' });
      const expr = el('input', { type: 'text', class: 'expression', 'aria-label': 'Calculated field expression', placeholder: 'IF($status_code >= 500, 1, 0)', value: f.expression ?? '', spellcheck: 'false' });
      const update = () => {
        f.name = name.value.trim();
        f.expression = expr.value;
        rerun();
      };
      name.addEventListener('change', update);
      expr.addEventListener('change', update);
      wrap.append(el('span', { class: 'clause' }, name, el('span', { class: 'muted', text: '=' }), expr, removeButton(`Remove calculated field ${f.name ?? ''}`, () => {
        q.calculated_fields.splice(i, 1);
        rerun();
      })));
    });
    const add = el('button', { type: 'button', text: '+', 'aria-label': 'Add a calculated field' });
    add.addEventListener('click', () => {
      q.calculated_fields.push({ name: `field${q.calculated_fields.length + 1}`, expression: '' });
      this.#userChange();
    });
    wrap.append(add, error);
    const fields = q.calculated_fields.filter((f) => f.name && f.expression);
    if (fields.length && this.source?.state === 'ready') {
      this.#checkFields(fields).then((message) => {
        error.hidden = !message;
        error.textContent = message ? displayText(message) : '';
      });
    }
    return wrap;
  }

  #buildForm() {
    const form = this.#ui.builder;
    if (this.#pendingSelection && this.source?.state === 'ready') {
      const sel = this.#pendingSelection;
      this.#pendingSelection = null;
      this.source.select(sel, { origin: this });
      this.#ui.compareBlock.hidden = false;
    }
    const built = JSON.stringify([this.#query, this.customerColumn, this.customer]);
    if (form.contains(this.#root.activeElement) && form.dataset.built === built) return;
    form.dataset.built = built;
    const q = this.#query;
    const all = this.#columns((f) => f.role !== 'other');
    const numeric = this.#columns((f) => f.role === 'number');
    // Strings, booleans and integers group; floats (durations, sizes) do not.
    const groupable = this.#columns((f) => f.role === 'string' || f.role === 'bool' || (f.role === 'number' && /^U?Int/.test(f.type)));
    const rerun = () => this.#userChange();

    const calcs = el('div', { class: 'clauses' });
    q.calculations.forEach((c, i) => {
      const op = select('Calculation', CALCULATION_OPS.map((o) => [o, o]), c.op);
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
      const column = this.#valueColumn() ?? numeric[0]?.[0];
      q.calculations.push(column ? { op: 'P95', column } : { op: 'COUNT' });
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
      if (!all.length) return;
      q.filters.push({ column: all[0][0], op: 'exists' });
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
      const op = select('Having operator', HAVING_OPS.map((o) => [o, o]), h.op);
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
    const earlier = select('Compare with', EARLIER, q.compare_time_offset_seconds ?? '');
    earlier.setAttribute('part', 'compare-time');
    earlier.addEventListener('change', () => {
      if (earlier.value) q.compare_time_offset_seconds = Number(earlier.value);
      else delete q.compare_time_offset_seconds;
      rerun();
    });
    const time = el('div', { class: 'clauses' }, range, el('span', { class: 'muted', text: 'granularity' }), gran, el('span', { class: 'muted', text: 'compared with' }), earlier);
    if (custom) {
      time.append(el('span', { class: 'muted', text: formatTimeRange(q.start_time ?? 0, q.end_time ?? 0, this.getAttribute('time-zone')) }));
    }

    const run = el('button', { type: 'submit', class: 'primary', text: 'Run query' });
    const label = (t) => el('div', { class: 'label', text: t });
    const customer = this.#customerPicker();
    const calculated = this.#calculatedEditor(q, rerun);
    form.replaceChildren(
      ...(customer ? [label('CUSTOMER'), customer] : []),
      label('CALCULATED'), calculated,
      label('VISUALIZE'), calcs,
      label('WHERE'), where,
      label('GROUP BY'), group,
      label('ORDER BY'), order,
      label('HAVING'), having,
      label('TIME'), time,
      el('div', { class: 'actions' }, run, el('span', { class: 'muted', text: this.#schema.length ? '' : 'Columns appear when the data has loaded.' })),
    );
  }

  #customers = { key: '', promise: null };

  /** The customer column's values, most events first (at most 1,000), cached per data version. */
  #customerValues(column) {
    const s = this.source;
    const key = `${s?.version}|${column}`;
    if (this.#customers.key !== key) {
      const spec = { calculations: [{ op: 'COUNT' }], breakdowns: [column], orders: [{ op: 'COUNT', order: 'descending' }], limit: 1000, disable_series: true };
      this.#customers = {
        key,
        promise: s.client.query(spec).then((r) => r.results.filter((row) => row[column] != null).map((row) => [String(row[column]), row.COUNT])),
      };
      this.#customers.promise.catch(() => {
        if (this.#customers.key === key) this.#customers = { key: '', promise: null };
      });
    }
    return this.#customers.promise;
  }

  /**
   * A type-ahead over the customer column's values, most active first: choosing one opens
   * the lens on that customer; clearing it closes the lens. Values are shown through
   * displayText and mapped back to the raw value.
   */
  #customerPicker() {
    const column = this.customerColumn;
    if (!column || !this.#schema.some((f) => f.name === column) || this.source?.state !== 'ready') return null;
    // Kept across the builder's rebuilds: a thousand options cost the main thread
    // milliseconds on every click of the builder otherwise.
    const key = JSON.stringify([this.source.version, column, this.customer ?? '']);
    if (this.#picker.key === key) return this.#picker.node;
    const list = el('datalist', { id: 'customer-values' });
    const raw = new Map();
    const input = el('input', {
      type: 'search',
      part: 'customer-picker',
      list: 'customer-values',
      autocomplete: 'off',
      placeholder: 'Everyone: type a customer',
      'aria-label': displayText(`Customer (${column})`),
      value: displayText(this.customer),
    });
    this.#customerValues(column).then(
      (values) => {
        for (const [value, n] of values) raw.set(displayText(value), value);
        list.replaceChildren(...values.map(([value, n]) => el('option', { value: displayText(value), label: `${formatInt(n)} events` })));
      },
      () => {},
    );
    const choose = () => {
      const text = input.value.trim();
      const value = text ? (raw.get(text) ?? text) : '';
      if (value === this.customer) return;
      this.customer = value;
      emit(this, 'sightline-query-change', { query: this.query, customer: value || null });
    };
    input.addEventListener('change', choose);
    input.addEventListener('search', choose);
    const node = el('div', { class: 'clauses' }, input, list, el('span', { class: 'muted', text: displayText(column) }));
    this.#picker = { key, node };
    return node;
  }

  #picker = { key: '', node: null };

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

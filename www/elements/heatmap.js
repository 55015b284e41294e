// <sightline-heatmap>: a streaming time x value heatmap, drawn by the engine (plotters,
// bitmap backend) in the worker; brush a region to select it.
//
// The element shows its source's data under the source's filters and time range. With a
// `src` attribute (or `load()`) it owns a private source; with `source="id"` (the id of
// a <sightline-source>) or the `source` property it shares one with other elements.

import { devicePixelRatio, displayText, drawMarkers, drawMessage, drawRendered, el, emit, formatInt, formatTimeRange, formatTimestamp, formatValue, intAttr, jsonListAttr, option, readTheme, renderTimeOptions, styleSheet, timeFormats, timeZoneNote } from '../shared/ui.js';
import { defaultColumns } from '../shared/columns.js';
import { SourceBound, contextSpec } from './source-bound.js';

const LIVE_RENDER_MS = 250;

/** `<sightline-heatmap>`: a streaming latency heatmap. */
export class SightlineHeatmap extends SourceBound {
  static observedAttributes = ['src', 'column', 'time-column', 'time-buckets', 'value-buckets', 'scale', 'unit', 'time-zone', 'source', 'filters', 'label'];

  #size = { w: 0, h: 0 };
  #rendering = false;
  #renderWanted = false;
  #renderTimer = 0;
  #lastRenderEnd = 0;
  #lastRenderMs = 0;
  #view = null; // last drawn render: { plot, heatmap, counts, low, matched }
  #hover = null; // { t, v } bucket under the pointer or keyboard cursor
  #drag = null; // { t0, v0, t1, v1 } while brushing (buckets)
  #anchor = null; // keyboard brush anchor
  #renderError = null;
  #gen = 0;
  #waiters = [];
  #fallback = { version: -1, column: '', named: '', missing: null }; // the column drawn when none, or a missing one, is named

  #ui;
  #resizeObserver;
  #media = [];
  #progressFrame = 0;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [styleSheet()];
    const status = el('div', { part: 'status', role: 'status', 'aria-live': 'polite' });
    const title = el('span', { class: 'title' });
    const detail = el('span', { class: 'detail' });
    status.append(title, el('span', { class: 'sep', 'aria-hidden': 'true', text: '·' }), detail);
    const fill = el('div', { class: 'fill' });
    const progress = el(
      'div',
      { part: 'progress', role: 'progressbar', 'aria-label': 'Loading data', 'aria-valuemin': '0', 'aria-valuemax': '100' },
      fill,
    );
    const canvas = el('canvas', {
      part: 'canvas',
      role: 'img',
      tabindex: '0',
      'aria-label': 'Heatmap (no data yet)',
      'aria-roledescription': 'heatmap; drag or press Enter twice to select a region',
    });
    const cursor = el('div', { class: 'cursor', hidden: '' });
    const brush = el('div', { class: 'brush', part: 'selection', hidden: '' });
    const tipTime = el('div', { class: 'time' });
    const tipValue = el('div', { class: 'value' });
    const tipCount = el('div', { class: 'count' });
    const tooltip = el('div', { part: 'tooltip', role: 'tooltip', hidden: '' }, tipTime, tipValue, tipCount);
    const plot = el('div', { class: 'plot' }, canvas, brush, cursor, tooltip);
    // "Everything since the deploy": a selection from a marker to the end of the heatmap.
    const since = el('select', { part: 'since', 'aria-label': 'Select everything since a marker', hidden: '' });
    since.addEventListener('change', () => {
      const m = this.#drawnMarkers[Number(since.value)];
      since.value = '';
      const h = this.#view?.heatmap;
      if (!m || !h) return;
      this.#commitSelection({ start_time: m.time, end_time: h.time_edges[h.time_edges.length - 1], column: h.column });
    });
    root.append(el('div', { class: 'head' }, status, since), progress, plot);
    this.#ui = { status, title, detail, progress, fill, canvas, cursor, brush, tooltip, tipTime, tipValue, tipCount, plot, since };

    canvas.addEventListener('pointerdown', (e) => this.#pointerDown(e));
    canvas.addEventListener('pointermove', (e) => this.#pointer(e));
    canvas.addEventListener('pointerup', (e) => this.#pointerUp(e));
    canvas.addEventListener('pointercancel', () => {
      this.#drag = null;
      this.#showSelection();
    });
    canvas.addEventListener('pointerleave', () => this.#setHover(null));
    canvas.addEventListener('keydown', (e) => this.#key(e));
    canvas.addEventListener('blur', () => this.#setHover(null));
    this.#resizeObserver = new ResizeObserver((entries) => {
      const box = entries[entries.length - 1].contentRect;
      const w = Math.floor(box.width);
      const h = Math.floor(box.height);
      if (w === this.#size.w && h === this.#size.h) return;
      this.#size = { w, h };
      if (!this.#view) this.#placeholder();
      this.#scheduleRender(true);
    });
  }

  // --- attributes and properties ---------------------------------------------------------

  /** The value column: the `column` attribute, else one chosen from the schema (a latency-like number). */
  /** The `column` attribute, else (or when the data has no such column) the schema's latency-like column. */
  get column() {
    const named = this.getAttribute('column');
    if (named && !(this.#fallback.missing === named && this.#fallback.column)) return named;
    return this.#fallback.column;
  }
  set column(v) {
    this.setAttribute('column', String(v));
  }
  get timeBuckets() {
    return intAttr(this, 'time-buckets', 120, 1, 1000);
  }
  set timeBuckets(v) {
    this.setAttribute('time-buckets', String(v));
  }
  get valueBuckets() {
    return intAttr(this, 'value-buckets', 40, 1, 1000);
  }
  set valueBuckets(v) {
    this.setAttribute('value-buckets', String(v));
  }
  get scale() {
    return this.getAttribute('scale') === 'linear' ? 'linear' : 'log';
  }
  set scale(v) {
    this.setAttribute('scale', String(v));
  }
  /** Extra filters of this heatmap only (on top of the source's), e.g. one customer's. */
  get filters() {
    return jsonListAttr(this, 'filters');
  }
  set filters(v) {
    this.setAttribute('filters', JSON.stringify(v ?? []));
  }
  /** The plot area of the last drawing, CSS pixels relative to the canvas `{ x, y, w, h }`, or null. */
  get plot() {
    return this.#view ? { ...this.#view.plot } : null;
  }

  /** The last drawn heatmap's header (`time_edges`, `value_edges`, `total`, ...), or null. */
  get heatmap() {
    return this.#view?.heatmap ?? null;
  }

  /** The `time-zone` attribute (resolved by the formatters: IANA name, `utc`, local). */
  #zone() {
    return this.getAttribute('time-zone');
  }

  #unit() {
    const u = this.getAttribute('unit');
    if (u) return u;
    return this.column.endsWith('_ms') ? 'ms' : undefined;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === 'src') {
      this.srcChanged(newValue);
      return;
    }
    if (name === 'source') {
      if (this.isConnected) this.connectSource();
      return;
    }
    if (!this.connectedOnce) return;
    this.#setHover(null);
    this.#updateTitle();
    if (this.rows > 0) this.#scheduleRender(true);
  }

  connectedCallback() {
    // Properties set before the element was defined shadow the accessors: re-apply them.
    for (const prop of ['fetchInit', 'src', 'column', 'timeBuckets', 'valueBuckets', 'scale', 'filters', 'source']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.connectedOnce = true;
    this.#resizeObserver.observe(this.#ui.plot);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const onScheme = () => this.#scheduleRender(true);
    scheme.addEventListener('change', onScheme);
    this.#media.push(() => scheme.removeEventListener('change', onScheme));
    this.#watchPixelRatio();
    this.connectSource();
    this.#updateTitle();
    if (this.rows > 0) this.#scheduleRender(true);
  }

  disconnectedCallback() {
    this.#resizeObserver.disconnect();
    for (const off of this.#media.splice(0)) off();
    clearTimeout(this.#renderTimer);
    this.disconnectSource();
  }

  #watchPixelRatio() {
    const mq = matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
    const on = () => {
      this.#media = this.#media.filter((f) => f !== off);
      off();
      this.#watchPixelRatio();
      this.#scheduleRender(true);
    };
    const off = () => mq.removeEventListener('change', on);
    mq.addEventListener('change', on);
    this.#media.push(off);
  }

  #drawnMarkers = [];

  /** The source's markers drawn on the last render: `[{ time, label, kind, x }]` (x in CSS pixels). */
  get drawnMarkers() {
    return this.#drawnMarkers;
  }

  /** The "since a marker" menu: one option per marker drawn, hidden when there is none. */
  #sinceOptions() {
    const { since } = this.#ui;
    const key = JSON.stringify(this.#drawnMarkers.map((m) => [m.time, m.label]));
    if (since.dataset.key === key) return;
    since.dataset.key = key;
    const zone = this.#zone();
    since.replaceChildren(
      option('', 'Since a marker…', true),
      ...this.#drawnMarkers.map((m, i) => option(String(i), displayText(`Since ${m.label} (${formatTimestamp(m.time, zone)})`), false)),
    );
    since.hidden = this.#drawnMarkers.length === 0;
  }

  onSource(type, detail) {
    switch (type) {
      case 'markers':
        this.#scheduleRender(true);
        break;
      case 'bind':
      case 'state':
        this.#gen += 1;
        if (this.source?.state === 'loading' && this.source.rows === 0) {
          this.#view = null;
          this.#renderError = null;
          this.#placeholder();
        }
        this.#reflectState();
        this.#updateTitle();
        this.#showProgress();
        if (this.source?.state === 'ready' && this.source.rows > 0) this.#scheduleRender(true);
        if (this.source?.state === 'error' && !this.#view) this.#placeholder();
        break;
      case 'progress':
        // Reported by the element that loads; linked ones just redraw.
        if (this.ownsSource) emit(this, 'sightline-progress', detail);
        if (!this.#progressFrame) {
          this.#progressFrame = requestAnimationFrame(() => {
            this.#progressFrame = 0;
            this.#showProgress();
          });
        }
        break;
      case 'data':
        this.#scheduleRender(false);
        break;
      case 'ready':
        this.#scheduleRender(true);
        if (this.ownsSource) emit(this, 'sightline-ready', detail);
        break;
      case 'error':
        if (this.ownsSource) emit(this, 'sightline-error', detail);
        this.#updateTitle();
        if (!this.#view) this.#placeholder();
        break;
      case 'context':
        this.#setHover(null);
        this.#scheduleRender(true);
        break;
      case 'select':
        this.#showSelection();
        break;
      default:
    }
  }

  #reflectState() {
    const state = this.state;
    if (state === 'idle') this.removeAttribute('state');
    else this.setAttribute('state', this.#renderError && state === 'ready' ? 'error' : state);
    this.toggleAttribute('aria-busy', state === 'loading');
  }

  /** Redraws (e.g. after changing the --sightline-* custom properties). */
  refresh() {
    if (this.rows > 0) this.#scheduleRender(true);
  }

  /**
   * Loads an Arrow IPC stream (a URL, bytes, a Blob, a Response or an apache-arrow Table)
   * and draws it. Resolves with `{ rows, bytes }` once drawn; rejects with the load's
   * error, or the drawing's (e.g. a column that is not numeric: the data stays loaded).
   */
  async load(input, options) {
    const r = await super.load(input, options);
    const drawn = new Promise((resolve) => this.#waiters.push(resolve));
    this.#scheduleRender(true);
    const err = await drawn;
    if (err) throw new Error(err);
    return r;
  }

  /** The chart as a PNG Blob (bitmap and labels, at the device pixel ratio). */
  toPNG() {
    return new Promise((resolve, reject) =>
      this.#ui.canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the heatmap could not be encoded as PNG'))), 'image/png'),
    );
  }

  /** Re-fetches `src`. */
  reload() {
    return this.src ? this.load(this.src) : Promise.resolve();
  }

  // --- status and progress ---------------------------------------------------------------

  #updateTitle() {
    const { title, detail } = this.#ui;
    title.textContent = displayText(this.getAttribute('label') || this.column);
    const s = this.source;
    let text;
    if (this.#renderError && s?.state !== 'loading') {
      text = this.#renderError;
    } else if (!s || s.state === 'idle') {
      text = 'No data';
    } else if (s.state === 'error') {
      text = s.error ?? 'error';
    } else if (s.state === 'loading') {
      const rows = s.totalRows ? `${formatInt(s.rows)} of ${formatInt(s.totalRows)} rows` : `${formatInt(s.rows)} rows`;
      const bytes = s.totalBytes ? `${formatValue(s.bytes, 'B')} of ${formatValue(s.totalBytes, 'B')}` : formatValue(s.bytes, 'B');
      text = `Loading ${rows} · ${bytes}`;
    } else {
      const h = this.#view?.heatmap;
      const parts = [];
      const c = s.context;
      const narrowed = c.start_time !== undefined || c.end_time !== undefined || c.time_range !== undefined;
      const extra = this.filters.length + (c.filters?.length ?? 0) + (narrowed ? 1 : 0);
      if (extra && this.#view) parts.push(`${formatInt(this.#view.matched)} of ${formatInt(s.rows)} rows`);
      else parts.push(`${formatInt(s.rows)} rows`);
      if (h && h.nulls > 0) parts.push(`${formatInt(h.nulls)} null values`);
      // Sampled data: the cells count the events the sample stands for.
      if (h && this.#view.weighted) parts.push(`weighted by ${this.#view.weighted}: ${formatInt(h.total)} events represented`);
      parts.push(`${this.scale} scale`);
      if (this.#fallback.missing) parts.push(`no column "${this.#fallback.missing}" in this data: drawing ${this.#fallback.column}`);
      const zone = timeZoneNote(this.#zone());
      if (zone) parts.push(zone);
      if (s.bytes && this.ownsSource) parts.push(`${formatValue(s.bytes, 'B')} in ${formatValue(s.loadMs, 'ms')}`);
      text = parts.join(' · ');
    }
    detail.textContent = displayText(text);
  }

  #showProgress() {
    const { progress, fill } = this.#ui;
    const s = this.source;
    const loading = s?.state === 'loading';
    let frac;
    if (!loading) frac = s?.state === 'ready' ? 1 : undefined;
    else if (s.totalRows) frac = s.rows / s.totalRows;
    else if (s.totalBytes) frac = s.bytes / s.totalBytes;
    progress.classList.toggle('indeterminate', frac === undefined && loading);
    if (frac !== undefined) {
      frac = Math.min(1, Math.max(0, frac));
      fill.style.transform = `scaleX(${frac})`;
      progress.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
    } else {
      fill.style.removeProperty('transform');
      progress.removeAttribute('aria-valuenow');
    }
    progress.setAttribute('aria-valuetext', this.#ui.detail.textContent);
    if (loading) this.#updateTitle();
  }

  // --- rendering -------------------------------------------------------------------------

  #spec() {
    const ctx = contextSpec(this.source);
    return {
      ...ctx,
      filters: [...ctx.filters, ...this.filters],
      calculations: [{ op: 'HEATMAP', column: this.column }],
      ...(this.getAttribute('time-column') ? { time_column: this.getAttribute('time-column') } : {}),
      // Without time-buckets, one bucket per granularity: round steps (15 min over a day)
      // so that a brush snaps to round times.
      heatmap: this.hasAttribute('time-buckets')
        ? { time_buckets: this.timeBuckets, value_buckets: this.valueBuckets, scale: this.scale }
        : { value_buckets: this.valueBuckets, scale: this.scale },
      disable_series: true,
    };
  }

  /** The engine's time options: the zone's offset in the middle of the last drawing. */
  #timeOptions() {
    const h = this.#view?.heatmap;
    const mid = h ? (h.time_edges[0] + h.time_edges[h.time_edges.length - 1]) / 2 : Date.now() / 1000;
    return renderTimeOptions(this.#zone(), mid);
  }

  /** Asks for a redraw; `now` skips the live-loading throttle. */
  #scheduleRender(now) {
    this.#renderWanted = true;
    if (this.#rendering) return;
    clearTimeout(this.#renderTimer);
    const wait = now
      ? 0
      : Math.max(0, this.#lastRenderEnd + Math.max(LIVE_RENDER_MS, this.#lastRenderMs * 1.5) - performance.now());
    this.#renderTimer = setTimeout(() => this.#renderNow(), wait);
  }

  async #renderNow() {
    if (this.#rendering || !this.#renderWanted) return;
    const s = this.source;
    const settle = () => {
      this.#renderWanted = false;
      for (const resolve of this.#waiters.splice(0)) resolve(null);
    };
    if (!this.isConnected || !s || s.rows === 0 || !s.running) return settle();
    if (this.#size.w === 0 || this.#size.h === 0) {
      // Not observed yet (e.g. load() right after insertion): measure now.
      const box = this.#ui.plot.getBoundingClientRect();
      this.#size = { w: Math.floor(box.width), h: Math.floor(box.height) };
    }
    const { w, h } = this.#size;
    if (w === 0 || h === 0) return settle();
    const theme = readTheme(this);
    const dpr = devicePixelRatio();
    const options = {
      width: w,
      height: h,
      dpr,
      background: theme.background,
      foreground: theme.foreground,
      ...this.#timeOptions(),
    };
    if (theme.palette.length) options.palette = theme.palette;
    const unit = this.getAttribute('unit');
    if (unit) options.unit = unit;
    const gen = this.#gen;
    this.#renderWanted = false;
    this.#rendering = true;
    const t0 = performance.now();
    try {
      const named = this.getAttribute('column') || '';
      if (this.#fallback.version !== s.version || this.#fallback.named !== named) {
        // The schema's latency-like column when none is named, or the named one is not in
        // this data (a default written for other data): drawn, and said, not an error.
        const version = s.version;
        const schema = await s.schema();
        const has = named && schema.some((f) => f.name === named);
        const value = has ? named : defaultColumns(schema).value;
        if (!value) throw new Error(named ? `no column "${named}" and no numeric column to draw instead` : 'no numeric column to draw: set the column attribute');
        this.#fallback = { version, column: value, named, missing: named && !has ? named : null };
        this.#updateTitle();
      }
      const r = await s.client.renderQuery(this.#spec(), options);
      if (gen !== this.#gen && s.state === 'loading' && s.rows === 0) return;
      drawRendered(this.#ui.canvas, r, theme, dpr);
      const edges = r.heatmap.time_edges;
      this.#drawnMarkers = drawMarkers(this.#ui.canvas, r.plot, edges[0], edges[edges.length - 1], s.markers, theme, dpr);
      this.#sinceOptions();
      this.#view = { plot: r.plot, heatmap: r.heatmap, counts: r.heatmap.counts, low: r.heatmap.low, matched: r.matched, weighted: r.sample_rate_column ?? null };
      this.#describe();
      if (this.#renderError) {
        this.#renderError = null;
        this.#reflectState();
      }
      this.#updateTitle();
      this.#showSelection();
      if (this.#hover) this.#setHover(this.#hover);
      emit(this, 'sightline-render', { matched: r.matched, ms: performance.now() - t0 });
    } catch (err) {
      if (err?.name === 'AbortError' || !this.isConnected) return;
      if (s.state === 'loading') return; // e.g. the column is not there yet
      // A bad column or spec: show it, keep the data.
      const message = err?.message || String(err);
      const first = this.#renderError !== message;
      this.#view = null;
      this.#setHover(null);
      this.#renderError = message;
      drawMessage(this.#ui.canvas, w, h, message, theme);
      this.#reflectState();
      this.#updateTitle();
      if (first) emit(this, 'sightline-error', { message });
    } finally {
      this.#rendering = false;
      this.#lastRenderEnd = performance.now();
      this.#lastRenderMs = this.#lastRenderEnd - t0;
      if (this.#renderWanted) this.#scheduleRender(s.state !== 'loading');
      else if (s.state !== 'loading') for (const resolve of this.#waiters.splice(0)) resolve(this.#renderError);
    }
  }

  #placeholder() {
    const s = this.source;
    const text =
      s?.state === 'loading' ? (s.rows ? 'Drawing…' : 'Loading…') : s?.state === 'error' ? (s.error ?? 'Error') : 'No data';
    drawMessage(this.#ui.canvas, this.#size.w, this.#size.h, text, readTheme(this));
  }

  #describe() {
    const h = this.#view?.heatmap;
    if (!h) return;
    const zone = this.#zone();
    const t0 = h.time_edges[0];
    const t1 = h.time_edges[h.time_edges.length - 1];
    const unit = this.#unit();
    const v0 = h.value_edges[0];
    const v1 = h.value_edges[h.value_edges.length - 1];
    const f = timeFormats(zone);
    const range = t1 - t0 > 86400 * 2 ? `${f.day(t0)} to ${f.day(t1)}` : formatTimeRange(t0, t1, zone);
    const label =
      `Heatmap of ${displayText(h.column)} over time: ${formatInt(h.total)} events, ${range}; ` +
      `values ${formatValue(v0, unit)} to ${formatValue(v1, unit)} on a ${h.scale} scale; ` +
      `busiest bucket ${formatInt(h.max_count)} events.`;
    this.#ui.canvas.setAttribute('aria-label', label);
  }

  // --- brushing --------------------------------------------------------------------------

  /** The bucket under a point, clamped to the plot when `clamp`. */
  #bucketAt(x, y, clamp = false) {
    const view = this.#view;
    if (!view) return null;
    const { plot, heatmap: h } = view;
    const tb = h.time_edges.length - 1;
    const vb = h.value_edges.length - 1;
    if (clamp) {
      x = Math.min(plot.x + plot.w - 0.01, Math.max(plot.x, x));
      y = Math.min(plot.y + plot.h - 0.01, Math.max(plot.y, y));
    }
    if (x < plot.x || x >= plot.x + plot.w) return null;
    const t = Math.min(tb - 1, Math.floor(((x - plot.x) / plot.w) * tb));
    const bottom = plot.y + plot.h;
    if (y >= plot.y && y < bottom) {
      return { t, v: Math.min(vb - 1, Math.floor(((bottom - y) / plot.h) * vb)) };
    }
    const hasLow = view.low ? view.low.some((c) => c > 0) : false;
    if (hasLow && y >= bottom && y < bottom + 9) return { t, v: -1 };
    return null;
  }

  #local(e) {
    const rect = this.#ui.canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }

  #pointerDown(e) {
    if (e.button !== 0 || !this.#view) return;
    const [x, y] = this.#local(e);
    const b = this.#bucketAt(x, y);
    if (!b) return;
    this.#ui.canvas.setPointerCapture?.(e.pointerId);
    // A drag that starts on a marker's line starts at the marker's time, not its bucket's.
    const near = this.#drawnMarkers.filter((m) => Math.abs(m.x - x) <= 6).sort((a, c) => Math.abs(a.x - x) - Math.abs(c.x - x))[0];
    this.#drag = { t0: b.t, v0: Math.max(0, b.v), t1: b.t, v1: Math.max(0, b.v), x: e.clientX, y: e.clientY, moved: false, since: near?.time, sinceX: near?.x };
  }

  #pointer(e) {
    const [x, y] = this.#local(e);
    if (this.#drag) {
      const b = this.#bucketAt(x, y, true);
      if (Math.abs(e.clientX - this.#drag.x) + Math.abs(e.clientY - this.#drag.y) > 4) this.#drag.moved = true;
      if (b) {
        this.#drag.t1 = b.t;
        this.#drag.v1 = Math.max(0, b.v);
      }
      this.#showSelection();
      this.#setHover(null);
      return;
    }
    this.#setHover(this.#bucketAt(x, y));
  }

  #pointerUp(e) {
    const d = this.#drag;
    this.#drag = null;
    if (!d) return;
    this.#ui.canvas.releasePointerCapture?.(e.pointerId);
    if (!d.moved) {
      // A click clears the selection.
      if (this.source?.selection) this.#commit(null);
      return;
    }
    this.#commit(d);
  }

  /** The selection of a bucket rectangle: a time range and a value range of the column. */
  #selectionOf(d) {
    const h = this.#view.heatmap;
    const [ta, tb] = [Math.min(d.t0, d.t1), Math.max(d.t0, d.t1)];
    const [va, vb] = [Math.min(d.v0, d.v1), Math.max(d.v0, d.v1)];
    const sel = { start_time: h.time_edges[ta], end_time: h.time_edges[tb + 1], column: h.column };
    const vEdges = h.value_edges.length - 1;
    if (va > 0) sel.min = h.value_edges[va];
    if (vb < vEdges - 1) sel.max = h.value_edges[vb + 1];
    // Started on a marker: the selection begins (or, dragged leftwards, ends) at its time.
    if (d.since !== undefined) {
      if (d.t1 >= d.t0) sel.start_time = d.since;
      else sel.end_time = d.since;
    }
    return sel;
  }

  #commit(d) {
    this.#commitSelection(d ? this.#selectionOf(d) : null);
  }

  #commitSelection(selection) {
    this.source?.select(selection, { origin: this });
    this.#showSelection();
    emit(this, 'sightline-select', { selection });
  }

  /** Draws the brush being dragged, or the source's selection. */
  #showSelection() {
    const { brush } = this.#ui;
    const view = this.#view;
    if (!view) {
      brush.hidden = true;
      return;
    }
    const { plot, heatmap: h } = view;
    const tb = h.time_edges.length - 1;
    const vb = h.value_edges.length - 1;
    let box = null;
    const d = this.#drag ?? (this.#anchor && this.#hover ? { t0: this.#anchor.t, v0: this.#anchor.v, t1: this.#hover.t, v1: Math.max(0, this.#hover.v) } : null);
    if (d) {
      const [ta, tb2] = [Math.min(d.t0, d.t1), Math.max(d.t0, d.t1)];
      const [va, vb2] = [Math.min(d.v0, d.v1), Math.max(d.v0, d.v1)];
      const fromMarker = d.since !== undefined;
      box = {
        x0: fromMarker && d.t1 >= d.t0 ? d.sinceX : plot.x + (plot.w * ta) / tb,
        x1: fromMarker && d.t1 < d.t0 ? d.sinceX : plot.x + (plot.w * (tb2 + 1)) / tb,
        y0: plot.y + plot.h - (plot.h * (vb2 + 1)) / vb,
        y1: plot.y + plot.h - (plot.h * va) / vb,
      };
    } else {
      const sel = this.source?.selection;
      if (sel && sel.column === h.column) {
        const t0 = h.time_edges[0];
        const t1 = h.time_edges[tb];
        const xOf = (t) => plot.x + (plot.w * Math.min(Math.max(t - t0, 0), t1 - t0)) / (t1 - t0);
        const lo = h.value_edges[0];
        const hi = h.value_edges[vb];
        const yOf = (v) => {
          const f = h.scale === 'log' && lo > 0 ? Math.log(v / lo) / Math.log(hi / lo) : (v - lo) / (hi - lo);
          return plot.y + plot.h * (1 - Math.min(1, Math.max(0, f)));
        };
        box = {
          x0: xOf(sel.start_time),
          x1: xOf(sel.end_time),
          y0: sel.max === undefined ? plot.y : yOf(sel.max),
          y1: sel.min === undefined ? plot.y + plot.h : yOf(sel.min),
        };
      }
    }
    if (!box || box.x1 - box.x0 < 1) {
      brush.hidden = true;
      return;
    }
    brush.hidden = false;
    brush.style.width = `${box.x1 - box.x0}px`;
    brush.style.height = `${Math.max(2, box.y1 - box.y0)}px`;
    brush.style.transform = `translate(${box.x0}px, ${box.y0}px)`;
  }

  // --- hover / keyboard ------------------------------------------------------------------

  #key(e) {
    const view = this.#view;
    if (!view) return;
    const tb = view.heatmap.time_edges.length - 1;
    const vb = view.heatmap.value_edges.length - 1;
    const cur = this.#hover ?? { t: Math.floor(tb / 2), v: Math.floor(vb / 2) };
    const step = e.shiftKey ? 10 : 1;
    let next = null;
    switch (e.key) {
      case 'ArrowLeft':
        next = { t: Math.max(0, cur.t - step), v: cur.v };
        break;
      case 'ArrowRight':
        next = { t: Math.min(tb - 1, cur.t + step), v: cur.v };
        break;
      case 'ArrowUp':
        next = { t: cur.t, v: Math.min(vb - 1, cur.v + step) };
        break;
      case 'ArrowDown':
        next = { t: cur.t, v: Math.max(view.low?.some((c) => c > 0) ? -1 : 0, cur.v - step) };
        break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        if (!this.#anchor) {
          this.#anchor = { t: cur.t, v: Math.max(0, cur.v) };
          this.#setHover(cur);
        } else {
          const a = this.#anchor;
          this.#anchor = null;
          this.#commit({ t0: a.t, v0: a.v, t1: cur.t, v1: Math.max(0, cur.v) });
        }
        return;
      case 'Escape':
        if (this.#anchor) this.#anchor = null;
        else if (this.source?.selection) this.#commit(null);
        this.#setHover(null);
        this.#showSelection();
        return;
      default:
        return;
    }
    e.preventDefault();
    this.#setHover(next);
    if (this.#anchor) this.#showSelection();
  }

  #setHover(b) {
    const { cursor, tooltip, tipTime, tipValue, tipCount } = this.#ui;
    const view = this.#view;
    this.#hover = b && view ? b : null;
    if (!this.#hover) {
      cursor.hidden = true;
      tooltip.hidden = true;
      return;
    }
    const { plot, heatmap: h } = view;
    const tb = h.time_edges.length - 1;
    const vb = h.value_edges.length - 1;
    const { t, v } = this.#hover;
    const unit = this.#unit();
    const x0 = plot.x + (plot.w * t) / tb;
    const x1 = plot.x + (plot.w * (t + 1)) / tb;
    let y0;
    let y1;
    let valueText;
    let count;
    if (v < 0) {
      y0 = plot.y + plot.h + 2;
      y1 = plot.y + plot.h + 8;
      valueText = `${displayText(h.column)} ≤ 0`;
      count = view.low?.[t];
    } else {
      y0 = plot.y + plot.h - (plot.h * (v + 1)) / vb;
      y1 = plot.y + plot.h - (plot.h * v) / vb;
      valueText = `${formatValue(h.value_edges[v], unit)} – ${formatValue(h.value_edges[v + 1], unit)}`;
      count = view.counts?.[t * vb + v];
    }
    tipTime.textContent = formatTimeRange(h.time_edges[t], h.time_edges[t + 1], this.#zone());
    tipValue.textContent = valueText;
    tipCount.textContent =
      count === undefined ? (this.state === 'loading' ? 'Loading…' : '') : `${formatInt(count)} ${count === 1 ? 'event' : 'events'}`;

    cursor.hidden = false;
    cursor.style.width = `${Math.max(3, x1 - x0 + 2)}px`;
    cursor.style.height = `${Math.max(3, y1 - y0 + 2)}px`;
    cursor.style.transform = `translate(${x0 - 1}px, ${y0 - 1}px)`;

    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    const W = this.#size.w;
    let left = x1 + 12;
    if (left + tw > W - 4) left = x0 - 12 - tw;
    left = Math.max(4, left);
    let top = (y0 + y1) / 2 - th / 2;
    top = Math.min(Math.max(4, top), Math.max(4, this.#size.h - th - 4));
    tooltip.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
  }
}

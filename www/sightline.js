// Sightline: the <sightline-heatmap> element and a promise client over the engine worker.
//
// The engine (Rust compiled to WebAssembly) runs in a module Web Worker (worker.js), one
// dataset per worker. The element streams an Arrow IPC stream into it chunk by chunk,
// redraws the heatmap while rows arrive, and draws the bitmap the engine returns with
// one putImageData plus the axis labels with fillText at the device pixel ratio.
//
// Works under a strict Content-Security-Policy: no inline scripts or styles, styles come
// from a constructable stylesheet, and data-derived text only ever goes through
// textContent, attributes or canvas fillText.

const WORKER_URL = new URL('./worker.js', import.meta.url);

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/** A promise wrapper over one engine worker (one dataset). */
export class SightlineClient {
  #worker;
  #nextId = 1;
  #pending = new Map();
  #broken = null;

  /** @param {{ workerUrl?: string | URL }} [options] */
  constructor(options = {}) {
    this.#worker = new Worker(options.workerUrl ?? WORKER_URL, { type: 'module', name: 'sightline-engine' });
    this.#worker.addEventListener('message', (event) => {
      const { id, result, error } = event.data ?? {};
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (error !== undefined) p.reject(new Error(error));
      else p.resolve(result);
    });
    this.#worker.addEventListener('error', (event) => {
      // The worker script itself failed (e.g. it could not be loaded).
      event.preventDefault();
      this.#fail(new Error(event.message || 'the Sightline worker failed to start'));
    });
    this.#worker.addEventListener('messageerror', () => {
      this.#fail(new Error('a message from the Sightline worker could not be read'));
    });
  }

  #fail(err) {
    this.#broken = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Sends one request; resolves with its result or rejects with the engine's message. */
  request(type, args = {}, transfer = []) {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#worker.postMessage({ ...args, id, type }, transfer);
      } catch (err) {
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  /** Replaces the dataset with an empty one. */
  reset(options = {}) {
    return this.request('reset', options.budgetBytes === undefined ? {} : { budgetBytes: options.budgetBytes });
  }

  /**
   * Feeds the next bytes of an Arrow IPC stream (cut anywhere).
   * The bytes are copied unless `transfer` is set, in which case the underlying buffer
   * is handed to the worker (and detached here) when the view covers all of it.
   * @param {Uint8Array | ArrayBuffer} chunk
   * @param {{ transfer?: boolean }} [options]
   */
  push(chunk, options = {}) {
    let view = chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : chunk;
    if (!ArrayBuffer.isView(view)) return Promise.reject(new TypeError('push() takes a Uint8Array or an ArrayBuffer'));
    if (!(view instanceof Uint8Array)) view = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
    const buffer =
      options.transfer && whole && view.buffer instanceof ArrayBuffer ? view.buffer : view.slice().buffer;
    return this.request('push', { bytes: buffer }, [buffer]);
  }

  /** Ends the stream; rejects if it stopped inside a message or failed earlier. */
  finish() {
    return this.request('finish');
  }

  /** The columns: `[{ name, type, role, unit?, note?, nulls, distinct? }]`. */
  schema() {
    return this.request('schema');
  }

  /** `{ rowCount, bytesConsumed, memoryBytes }`. */
  stats() {
    return this.request('stats');
  }

  /**
   * Computes and draws a heatmap. With `counts: true` the result also carries the bucket
   * counts (`counts`, `low`) for hit-testing.
   */
  render(spec, options = {}, extra = {}) {
    return this.request('render', { spec, options, counts: Boolean(extra.counts) });
  }

  /** Runs a query (Honeycomb's query specification); see README.md. */
  query(spec) {
    return this.request('query', { spec });
  }

  /** Compares a selection with a baseline; see README.md. */
  compare(spec) {
    return this.request('compare', { spec });
  }

  /** Stops the worker; pending requests reject. */
  terminate() {
    this.#worker.terminate();
    this.#fail(new Error('the Sightline worker was terminated'));
  }
}

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

function formatInt(n) {
  return intFormat.format(n);
}

function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

function formatSeconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function trimNumber(x, digits) {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Three significant digits: 0.0772, 1.23, 12.3, 123, 1.23k ... */
function compact(v) {
  const a = Math.abs(v);
  const sig = (x) => trimNumber(x, Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x) || 1))));
  if (a >= 1e9) return `${sig(v / 1e9)}G`;
  if (a >= 1e6) return `${sig(v / 1e6)}M`;
  if (a >= 1e3) return `${sig(v / 1e3)}k`;
  if (a === 0) return '0';
  return sig(v);
}

/** A value with its unit, as the axis labels write it (`ms` becomes s above 1000). */
function formatValue(v, unit) {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'ms') return Math.abs(v) >= 1000 ? `${compact(v / 1000)} s` : `${compact(v)} ms`;
  if (unit) return `${compact(v)} ${unit}`;
  return compact(v);
}

function timeFormats(utc) {
  const timeZone = utc ? 'UTC' : undefined;
  return {
    date: new Intl.DateTimeFormat(undefined, { timeZone, month: 'short', day: 'numeric' }),
    time: new Intl.DateTimeFormat(undefined, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
    seconds: new Intl.DateTimeFormat(undefined, {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }),
    day: (ms) => new Date(ms).toLocaleDateString(undefined, { timeZone, year: 'numeric', month: 'short', day: 'numeric' }),
  };
}

/** `Oct 31, 16:00 – 16:12` (the end's date only when it differs). */
function formatTimeRange(t0, t1, utc) {
  const f = timeFormats(utc);
  const fine = t1 - t0 < 120;
  const clock = fine ? f.seconds : f.time;
  const a = new Date(t0 * 1000);
  const b = new Date(t1 * 1000);
  const da = f.date.format(a);
  const db = f.date.format(b);
  const zone = utc ? ' UTC' : '';
  return da === db
    ? `${da}, ${clock.format(a)} – ${clock.format(b)}${zone}`
    : `${da}, ${clock.format(a)} – ${db}, ${clock.format(b)}${zone}`;
}

// ---------------------------------------------------------------------------------------
// Styles
// ---------------------------------------------------------------------------------------

const STYLE = `
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
[part="tooltip"] .count { font-weight: 600; color: var(--sightline-title, currentColor); }
`;

let sheet = null;
function styleSheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

// ---------------------------------------------------------------------------------------
// Colours from CSS custom properties
// ---------------------------------------------------------------------------------------

let scratch = null;
/** Normalises any CSS colour to `#rrggbb` (or returns `fallback`). */
function hexColour(value, fallback) {
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

// ---------------------------------------------------------------------------------------
// The element
// ---------------------------------------------------------------------------------------

const LIVE_RENDER_MS = 250;
const MAX_IN_FLIGHT_BYTES = 4 << 20;
const SLICE_BYTES = 1 << 20;

function intAttr(el, name, fallback, lo, hi) {
  const v = Number.parseInt(el.getAttribute(name) ?? '', 10);
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** `<sightline-heatmap>`: a streaming latency heatmap. */
export class SightlineHeatmap extends HTMLElement {
  static observedAttributes = ['src', 'column', 'time-buckets', 'value-buckets', 'scale', 'unit', 'time-zone'];

  #client = null;
  #state = 'idle';
  #load = 0; // generation of the current load; results of older ones are ignored
  #abort = null;
  #loading = false;
  #rows = 0;
  #bytes = 0;
  #totalBytes;
  #totalRows;
  #startedAt = 0;
  #loadMs = 0;
  #error = null;
  #renderFailed = false;

  #size = { w: 0, h: 0 };
  #rendering = false;
  #renderWanted = false;
  #renderTimer = 0;
  #lastRenderEnd = 0;
  #lastRenderMs = 0;
  #view = null; // last drawn render: { plot, heatmap, cssW, cssH, counts?, low?, key }
  #countsKey = '';
  #hover = null; // { t, v } bucket under the pointer or keyboard cursor

  #ui;
  #resizeObserver;
  #media = [];
  #progressFrame = 0;
  #connectedOnce = false;

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
    const canvas = el('canvas', { part: 'canvas', role: 'img', tabindex: '0', 'aria-label': 'Heatmap (no data yet)' });
    const cursor = el('div', { class: 'cursor', hidden: '' });
    const tipTime = el('div', { class: 'time' });
    const tipValue = el('div', { class: 'value' });
    const tipCount = el('div', { class: 'count' });
    const tooltip = el('div', { part: 'tooltip', role: 'tooltip', hidden: '' }, tipTime, tipValue, tipCount);
    const plot = el('div', { class: 'plot' }, canvas, cursor, tooltip);
    root.append(el('div', { class: 'head' }, status), progress, plot);
    this.#ui = { status, title, detail, progress, fill, canvas, cursor, tooltip, tipTime, tipValue, tipCount, plot };

    canvas.addEventListener('pointermove', (e) => this.#pointer(e));
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

  get src() {
    return this.getAttribute('src') ?? '';
  }
  set src(v) {
    if (v == null) this.removeAttribute('src');
    else this.setAttribute('src', String(v));
  }
  get column() {
    return this.getAttribute('column') || 'duration_ms';
  }
  set column(v) {
    this.setAttribute('column', String(v));
  }
  get timeBuckets() {
    return intAttr(this, 'time-buckets', 120, 1, 2000);
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
  /** `loading`, `ready`, `error`, or `idle` before anything was loaded. */
  get state() {
    return this.#state;
  }
  /** Rows loaded so far. */
  get rows() {
    return this.#rows;
  }
  /** The last error message, or null. */
  get error() {
    return this.#error;
  }
  /** The engine client (created on first use). */
  get client() {
    return this.#ensureClient();
  }

  #utc() {
    return (this.getAttribute('time-zone') ?? '').toLowerCase() === 'utc';
  }

  #unit() {
    const u = this.getAttribute('unit');
    if (u) return u;
    return this.column.endsWith('_ms') ? 'ms' : undefined;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === 'src') {
      if (this.isConnected && newValue) this.#loadSrc(newValue);
      return;
    }
    if (!this.#connectedOnce) return;
    this.#setHover(null);
    this.#updateTitle();
    if (this.#rows > 0) this.#scheduleRender(true, !this.#loading);
  }

  connectedCallback() {
    // Properties set before the element was defined shadow the accessors: re-apply them.
    for (const prop of ['src', 'column', 'timeBuckets', 'valueBuckets', 'scale']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.#connectedOnce = true;
    this.#resizeObserver.observe(this.#ui.plot);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const onScheme = () => this.#scheduleRender(true);
    scheme.addEventListener('change', onScheme);
    this.#media.push(() => scheme.removeEventListener('change', onScheme));
    this.#watchPixelRatio();
    this.#updateTitle();
    if (this.src && this.#state === 'idle') this.#loadSrc(this.src);
    else if (this.#rows > 0) this.#scheduleRender(true);
  }

  disconnectedCallback() {
    this.#resizeObserver.disconnect();
    for (const off of this.#media.splice(0)) off();
    clearTimeout(this.#renderTimer);
    // A move within the document reconnects in the same task: keep the data then.
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.#abort?.abort();
      this.#load += 1;
      this.#loading = false;
      this.#client?.terminate();
      this.#client = null;
      this.#rows = 0;
      this.#view = null;
      this.#state = 'idle';
      this.removeAttribute('state');
      this.removeAttribute('aria-busy');
    });
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

  #ensureClient() {
    this.#client ??= new SightlineClient();
    return this.#client;
  }

  // --- loading ---------------------------------------------------------------------------

  /** Redraws (e.g. after changing the --sightline-* custom properties). */
  refresh() {
    if (this.#rows > 0) this.#scheduleRender(true);
  }

  /** Re-fetches `src`. */
  reload() {
    return this.src ? this.#loadSrc(this.src) : Promise.resolve();
  }

  async #loadSrc(src) {
    const controller = new AbortController();
    const gen = this.#begin(controller);
    try {
      const response = await fetch(src, { signal: controller.signal });
      await this.#run(gen, () => this.#consume(gen, response));
    } catch (err) {
      this.#fail(gen, err);
    }
  }

  /**
   * Loads an Arrow IPC stream: bytes, a `Response` (streamed) or a `Blob`.
   * Replaces any data loaded before. Resolves with `{ rows, bytes }` when drawn.
   * @param {Uint8Array | ArrayBuffer | Response | Blob} input
   */
  async load(input) {
    const controller = new AbortController();
    const gen = this.#begin(controller);
    try {
      if (input instanceof Response) {
        await this.#run(gen, () => this.#consume(gen, input));
      } else if (typeof Blob !== 'undefined' && input instanceof Blob) {
        await this.#run(gen, () => this.#consume(gen, new Response(input), input.size));
      } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
        const bytes =
          input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
        await this.#run(gen, () => this.#consumeBytes(gen, bytes));
      } else {
        throw new TypeError('load() takes a Uint8Array, an ArrayBuffer, a Blob or a Response');
      }
    } catch (err) {
      this.#fail(gen, err);
      throw err;
    }
    if (gen !== this.#load) throw new DOMException('superseded by a newer load', 'AbortError');
    return { rows: this.#rows, bytes: this.#bytes };
  }

  #begin(controller) {
    this.#abort?.abort();
    this.#abort = controller;
    this.#load += 1;
    this.#loading = true;
    this.#rows = 0;
    this.#bytes = 0;
    this.#totalBytes = undefined;
    this.#totalRows = undefined;
    this.#error = null;
    this.#renderFailed = false;
    this.#countsKey = '';
    this.#startedAt = performance.now();
    this.#setHover(null);
    this.#setState('loading');
    this.#updateTitle();
    this.#showProgress();
    // The old data is gone from the engine: do not keep showing it.
    this.#view = null;
    this.#placeholder();
    this.#ui.canvas.setAttribute('aria-label', 'Heatmap (loading)');
    return this.#load;
  }

  async #run(gen, body) {
    const client = this.#ensureClient();
    await client.reset();
    if (gen !== this.#load) return;
    await body();
    if (gen !== this.#load) return;
    const done = await client.finish();
    if (gen !== this.#load) return;
    this.#rows = done.rowCount;
    this.#loading = false;
    this.#loadMs = performance.now() - this.#startedAt;
    this.#emitProgress();
    this.#showProgress();
    clearTimeout(this.#renderTimer);
    this.#renderWanted = false;
    const renderError = await this.#renderNow(gen, true);
    if (gen !== this.#load) return;
    if (renderError) throw renderError;
    this.#setState('ready');
    this.#updateTitle();
    this.dispatchEvent(
      new CustomEvent('sightline-ready', {
        bubbles: true,
        composed: true,
        detail: { rows: this.#rows, bytes: this.#bytes, ms: this.#loadMs },
      }),
    );
  }

  async #consume(gen, response, sizeHint) {
    if (!response.ok) {
      let body = '';
      try {
        body = (await response.text()).trim().slice(0, 300);
      } catch {
        // no body
      }
      throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${body ? `: ${body}` : ''}`);
    }
    const length = Number(response.headers.get('Content-Length'));
    const encoded = response.headers.get('Content-Encoding');
    this.#totalBytes = sizeHint ?? (length > 0 && !encoded ? length : undefined);
    const rows = Number(response.headers.get('X-Sightline-Rows'));
    this.#totalRows = rows > 0 ? rows : undefined;
    this.#showProgress();
    if (!response.body) return;
    const reader = response.body.getReader();
    const client = this.#ensureClient();
    const inFlight = [];
    let inFlightBytes = 0;
    let failure = null;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (gen !== this.#load) {
          reader.cancel().catch(() => {});
          return;
        }
        if (failure) break;
        const size = value.byteLength;
        this.#bytes += size;
        const p = client.push(value, { transfer: true }).then(
          (r) => this.#pushed(gen, r),
          (err) => {
            failure ??= err;
          },
        );
        inFlight.push({ p, size });
        inFlightBytes += size;
        // Back-pressure: do not run ahead of the engine by more than a few megabytes.
        while (inFlightBytes > MAX_IN_FLIGHT_BYTES) {
          const first = inFlight.shift();
          await first.p;
          inFlightBytes -= first.size;
        }
      }
      await Promise.all(inFlight.map((x) => x.p));
    } finally {
      if (failure) reader.cancel().catch(() => {});
    }
    if (failure) throw failure;
  }

  async #consumeBytes(gen, bytes) {
    this.#totalBytes = bytes.byteLength;
    const client = this.#ensureClient();
    const pushes = [];
    let failure = null;
    for (let at = 0; at < bytes.byteLength && !failure; at += SLICE_BYTES) {
      const part = bytes.subarray(at, Math.min(bytes.byteLength, at + SLICE_BYTES));
      this.#bytes += part.byteLength;
      pushes.push(
        client.push(part).then(
          (r) => this.#pushed(gen, r),
          (err) => {
            failure ??= err;
          },
        ),
      );
      if (pushes.length >= 16) await pushes.shift();
      if (gen !== this.#load) return;
    }
    await Promise.all(pushes);
    if (failure) throw failure;
  }

  #pushed(gen, r) {
    if (gen !== this.#load) return;
    this.#rows = r.rowCount;
    this.#emitProgress();
    if (r.rows > 0) this.#scheduleRender(false);
    if (!this.#progressFrame) {
      this.#progressFrame = requestAnimationFrame(() => {
        this.#progressFrame = 0;
        this.#showProgress();
      });
    }
  }

  #emitProgress() {
    const detail = { bytes: this.#bytes, rows: this.#rows };
    if (this.#totalBytes !== undefined) detail.totalBytes = this.#totalBytes;
    if (this.#totalRows !== undefined) detail.totalRows = this.#totalRows;
    this.dispatchEvent(new CustomEvent('sightline-progress', { bubbles: true, composed: true, detail }));
  }

  #fail(gen, err) {
    if (gen !== this.#load) return;
    if (err?.name === 'AbortError') return;
    const message = err?.message || String(err);
    this.#loading = false;
    this.#error = message;
    this.#setState('error');
    this.#updateTitle();
    this.#showProgress();
    if (!this.#view) this.#placeholder();
    this.dispatchEvent(new CustomEvent('sightline-error', { bubbles: true, composed: true, detail: { message } }));
  }

  #setState(state) {
    this.#state = state;
    this.setAttribute('state', state);
    this.toggleAttribute('aria-busy', state === 'loading');
  }

  // --- schema / stats ------------------------------------------------------------------

  /** The columns of the loaded data. */
  schema() {
    return this.#ensureClient().schema();
  }

  /** `{ rowCount, bytesConsumed, memoryBytes }`. */
  stats() {
    return this.#ensureClient().stats();
  }

  // --- status and progress ---------------------------------------------------------------

  #updateTitle() {
    const { title, detail } = this.#ui;
    title.textContent = this.column;
    let text;
    if (this.#state === 'error') {
      text = this.#error ?? 'error';
    } else if (this.#state === 'loading') {
      const rows = this.#totalRows ? `${formatInt(this.#rows)} of ${formatInt(this.#totalRows)} rows` : `${formatInt(this.#rows)} rows`;
      const bytes = this.#totalBytes ? `${formatBytes(this.#bytes)} of ${formatBytes(this.#totalBytes)}` : formatBytes(this.#bytes);
      text = `Loading ${rows} · ${bytes}`;
    } else if (this.#state === 'ready') {
      const h = this.#view?.heatmap;
      const parts = [`${formatInt(this.#rows)} rows`];
      if (h && h.nulls > 0) parts.push(`${formatInt(h.nulls)} null values`);
      parts.push(`${this.scale} scale`);
      if (this.#utc()) parts.push('times in UTC');
      if (this.#bytes) parts.push(`${formatBytes(this.#bytes)} in ${formatSeconds(this.#loadMs)}`);
      text = parts.join(' · ');
    } else {
      text = 'No data';
    }
    detail.textContent = text;
  }

  #showProgress() {
    const { progress, fill } = this.#ui;
    let frac;
    if (!this.#loading) frac = this.#state === 'ready' ? 1 : undefined;
    else if (this.#totalRows) frac = this.#rows / this.#totalRows;
    else if (this.#totalBytes) frac = this.#bytes / this.#totalBytes;
    progress.classList.toggle('indeterminate', frac === undefined && this.#loading);
    if (frac !== undefined) {
      frac = Math.min(1, Math.max(0, frac));
      fill.style.transform = `scaleX(${frac})`;
      progress.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
    } else {
      fill.style.removeProperty('transform');
      progress.removeAttribute('aria-valuenow');
    }
    progress.setAttribute('aria-valuetext', this.#ui.detail.textContent);
    if (this.#loading) this.#updateTitle();
  }

  // --- rendering -------------------------------------------------------------------------

  #spec() {
    return {
      column: this.column,
      time_buckets: this.timeBuckets,
      value_buckets: this.valueBuckets,
      scale: this.scale,
    };
  }

  #theme() {
    const cs = getComputedStyle(this);
    const background = hexColour(cs.getPropertyValue('--sightline-bg'), '#ffffff');
    const foreground = hexColour(cs.getPropertyValue('--sightline-fg'), '#57606a');
    const palette = cs
      .getPropertyValue('--sightline-palette')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((c) => hexColour(c, ''))
      .filter(Boolean);
    const family = cs.getPropertyValue('--sightline-font').trim() || 'system-ui, sans-serif';
    return { background, foreground, palette, family };
  }

  #tzOffsetMinutes() {
    if (this.#utc()) return 0;
    const h = this.#view?.heatmap;
    const mid = h ? ((h.time_edges[0] + h.time_edges[h.time_edges.length - 1]) / 2) * 1000 : Date.now();
    return -new Date(mid).getTimezoneOffset();
  }

  /** Asks for a redraw; `now` skips the live-loading throttle; `counts` also fetches counts. */
  #scheduleRender(now, counts = false) {
    if (counts) this.#countsKey = '';
    this.#renderWanted = true;
    if (this.#rendering) return;
    clearTimeout(this.#renderTimer);
    const wait = now
      ? 0
      : Math.max(0, this.#lastRenderEnd + Math.max(LIVE_RENDER_MS, this.#lastRenderMs * 1.5) - performance.now());
    this.#renderTimer = setTimeout(() => this.#pump(), wait);
  }

  async #pump() {
    if (this.#rendering || !this.#renderWanted) return;
    if (!this.isConnected || this.#rows === 0 || !this.#client) return;
    const gen = this.#load;
    const final = !this.#loading;
    const err = await this.#renderNow(gen, final);
    if (err && final && gen === this.#load) this.#fail(gen, err);
  }

  /** Renders and draws; resolves with the engine's error, if any (null on success or when stale). */
  async #renderNow(gen, final) {
    if (this.#rendering) {
      // Wait for the render in flight, then draw again with the latest rows.
      this.#renderWanted = true;
      await new Promise((resolve) => {
        const check = () => (this.#rendering ? setTimeout(check, 10) : resolve());
        check();
      });
      if (gen !== this.#load) return null;
    }
    if ((this.#size.w === 0 || this.#size.h === 0) && this.isConnected) {
      // Not observed yet (e.g. load() right after insertion): measure now.
      const box = this.#ui.plot.getBoundingClientRect();
      this.#size = { w: Math.floor(box.width), h: Math.floor(box.height) };
    }
    const { w, h } = this.#size;
    if (w === 0 || h === 0 || this.#rows === 0) return null;
    const theme = this.#theme();
    const dpr = Math.min(4, Math.max(0.5, window.devicePixelRatio || 1));
    const spec = this.#spec();
    const options = {
      width: w,
      height: h,
      dpr,
      background: theme.background,
      foreground: theme.foreground,
      tz_offset_minutes: this.#tzOffsetMinutes(),
    };
    if (theme.palette.length) options.palette = theme.palette;
    const unit = this.getAttribute('unit');
    if (unit) options.unit = unit;
    const key = `${JSON.stringify(spec)}@${this.#rows}`;
    const wantCounts = final && this.#countsKey !== key;
    // This render covers every request made so far.
    this.#renderWanted = false;
    clearTimeout(this.#renderTimer);
    this.#rendering = true;
    const t0 = performance.now();
    try {
      const r = await this.#ensureClient().render(spec, options, { counts: wantCounts });
      if (gen !== this.#load) return null;
      const view = { plot: r.plot, heatmap: r.heatmap, cssW: w, cssH: h, rows: r.rowCount };
      if (wantCounts) {
        view.counts = r.counts;
        view.low = r.low;
        this.#countsKey = key;
      } else if (this.#view?.counts && this.#countsKey === key) {
        view.counts = this.#view.counts;
        view.low = this.#view.low;
      }
      this.#draw(r, theme, dpr);
      this.#view = view;
      this.#describe();
      if (!this.#loading) this.#updateTitle();
      if (this.#hover) this.#setHover(this.#hover);
      if (this.#renderFailed && !this.#loading) {
        // The spec was fixed (e.g. a numeric column chosen): back to ready.
        this.#renderFailed = false;
        this.#error = null;
        this.#setState('ready');
        this.#updateTitle();
      }
      return null;
    } catch (err) {
      if (gen !== this.#load) return null;
      // A bad column or spec: show it, keep the data.
      this.#view = null;
      this.#setHover(null);
      this.#drawMessage(err?.message || String(err));
      if (final) this.#renderFailed = true;
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      this.#rendering = false;
      this.#lastRenderEnd = performance.now();
      this.#lastRenderMs = this.#lastRenderEnd - t0;
      if (this.#renderWanted) this.#scheduleRender(!this.#loading);
    }
  }

  #draw(r, theme, dpr) {
    const canvas = this.#ui.canvas;
    if (canvas.width !== r.width) canvas.width = r.width;
    if (canvas.height !== r.height) canvas.height = r.height;
    // One bitmap pixel per device pixel (the engine clamps tiny sizes up: keep its size then).
    const scale = dpr;
    const cssW = r.width / scale;
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${r.height / scale}px`;
    const ctx = canvas.getContext('2d', { alpha: false });
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.putImageData(new ImageData(r.rgba, r.width, r.height), 0, 0);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.font = `12px ${theme.family}`;
    ctx.fillStyle = theme.foreground;
    const placed = [];
    const pad = 3;
    for (const label of r.labels) {
      ctx.textAlign = label.align;
      ctx.textBaseline = label.baseline;
      const m = ctx.measureText(label.text);
      const width = m.width;
      const ascent = m.actualBoundingBoxAscent;
      const descent = m.actualBoundingBoxDescent;
      let x = label.x;
      let left = label.align === 'right' ? x - width : label.align === 'center' ? x - width / 2 : x;
      // Keep labels inside the canvas.
      const shift = Math.max(0, 2 - left) - Math.max(0, left + width - (cssW - 2));
      x += shift;
      left += shift;
      const box = { l: left - pad, r: left + width + pad, t: label.y - ascent - 1, b: label.y + descent + 1 };
      if (placed.some((p) => box.l < p.r && box.r > p.l && box.t < p.b && box.b > p.t)) continue;
      placed.push(box);
      ctx.fillText(label.text, x, label.y);
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  #placeholder() {
    if (this.#state === 'loading') this.#drawMessage(this.#rows ? 'Drawing…' : 'Loading…');
    else if (this.#state === 'error') this.#drawMessage(this.#error ?? 'Error');
    else this.#drawMessage('No data');
  }

  #drawMessage(text) {
    const canvas = this.#ui.canvas;
    const { w, h } = this.#size;
    if (!w || !h) return;
    const theme = this.#theme();
    const dpr = Math.min(4, Math.max(0.5, window.devicePixelRatio || 1));
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

  #describe() {
    const h = this.#view?.heatmap;
    if (!h) return;
    const utc = this.#utc();
    const t0 = h.time_edges[0];
    const t1 = h.time_edges[h.time_edges.length - 1];
    const unit = this.#unit();
    const v0 = h.value_edges[0];
    const v1 = h.value_edges[h.value_edges.length - 1];
    const f = timeFormats(utc);
    const range =
      t1 - t0 > 86400 * 2
        ? `${f.day(t0 * 1000)} to ${f.day(t1 * 1000)}`
        : formatTimeRange(t0, t1, utc);
    const label =
      `Heatmap of ${h.column} over time: ${formatInt(h.total)} events, ${range}; ` +
      `values ${formatValue(v0, unit)} to ${formatValue(v1, unit)} on a ${h.scale} scale; ` +
      `busiest bucket ${formatInt(h.max_count)} events.`;
    this.#ui.canvas.setAttribute('aria-label', label);
  }

  // --- hover / keyboard ------------------------------------------------------------------

  #bucketAt(x, y) {
    const view = this.#view;
    if (!view) return null;
    const { plot, heatmap: h } = view;
    const tb = h.time_edges.length - 1;
    const vb = h.value_edges.length - 1;
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

  #pointer(e) {
    const rect = this.#ui.canvas.getBoundingClientRect();
    this.#setHover(this.#bucketAt(e.clientX - rect.left, e.clientY - rect.top));
  }

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
      case 'Escape':
        this.#setHover(null);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.#setHover(next);
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
      valueText = `${h.column} ≤ 0`;
      count = view.low?.[t];
    } else {
      y0 = plot.y + plot.h - (plot.h * (v + 1)) / vb;
      y1 = plot.y + plot.h - (plot.h * v) / vb;
      valueText = `${formatValue(h.value_edges[v], unit)} – ${formatValue(h.value_edges[v + 1], unit)}`;
      count = view.counts?.[t * vb + v];
    }
    tipTime.textContent = formatTimeRange(h.time_edges[t], h.time_edges[t + 1], this.#utc());
    tipValue.textContent = valueText;
    tipCount.textContent = count === undefined ? (this.#loading ? 'Loading…' : '') : `${formatInt(count)} ${count === 1 ? 'event' : 'events'}`;

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

if (!customElements.get('sightline-heatmap')) {
  customElements.define('sightline-heatmap', SightlineHeatmap);
}

export default SightlineHeatmap;

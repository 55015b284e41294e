// Sightline data sources: the engine worker client, and a source that loads Arrow IPC
// streams into it and carries the view context that linked elements share.
//
// A `SightlineSource` owns one Web Worker (one dataset). Elements that share a source
// share its data, its filters and time range (`context`) and its brushed `selection`:
// a brush on a heatmap opens the comparison in a `<sightline-compare>` beside it, a
// value clicked there filters every element of the source.

import { RemoteDataset } from './remote.js';

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

// Written out in full, a literal: Vite, webpack and Parcel bundle the worker (and the wasm
// it finds the same way) only when they see this exact form.
const startWorker = () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'sightline-engine' });

/**
 * True when a bundler left the worker script behind: this module is not where the package
 * has it (so it was bundled) and the literal above is still the package's own relative
 * URL (so the bundler did not rewrite it to an emitted file: Rollup, esbuild). The engine
 * then runs in the page at once, with no request for a script that is not there. Reading
 * a function's source is not eval: no CSP objects.
 */
const LEFT_BEHIND = !/\/engine\/client\.js(\?.*)?$/.test(import.meta.url) && String(startWorker).includes('./worker.js');

let warned = false;

/** A promise wrapper over one engine worker (one dataset). */
export class SightlineClient {
  #worker = null;
  /** Requests (message, transfer) kept until the worker says its script loaded. */
  #held = [];
  #host = 'starting';
  #nextId = 1;
  #pending = new Map();
  #broken = null;
  /** Called with `{ where, rows, ms }` for each answer that says where it was computed. */
  oncomputed = null;

  /**
   * Where the engine worker's script is when it is not beside this module (after a bundler
   * that does not follow `new URL(..., import.meta.url)`, such as Rollup or esbuild, when
   * the package's files are served from elsewhere): a URL for every client created after.
   * @type {string | URL | null}
   */
  static workerUrl = null;

  /** @param {{ workerUrl?: string | URL }} [options] */
  constructor(options = {}) {
    const url = options.workerUrl ?? SightlineClient.workerUrl;
    if (!url && LEFT_BEHIND) {
      this.#inPage(new Error('the bundler did not emit the worker script (it does not follow new URL(…, import.meta.url))'));
      return;
    }
    let worker = null;
    try {
      worker = url ? new Worker(url, { type: 'module', name: 'sightline-engine' }) : startWorker();
    } catch (err) {
      this.#inPage(err);
      return;
    }
    this.#worker = worker;
    this.#listen(worker);
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      // The script could not be loaded (not served where the module expects it): the
      // engine runs in the page instead. A failure after it loaded fails the requests.
      if (this.#held) this.#inPage(new Error(event.message || `the worker script was not found beside ${import.meta.url}`));
      else this.#fail(new Error(event.message || 'the Sightline worker failed'));
    });
  }

  /** Where the engine runs: `worker`, `page` (the worker script could not be loaded), or `starting`. */
  get host() {
    return this.#host;
  }

  #listen(port) {
    port.addEventListener('message', (event) => {
      const data = event.data ?? {};
      if (data.started) {
        this.#host = 'worker';
        this.#flush();
        return;
      }
      const { id, result, error, fields, superseded } = data;
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (superseded) p.reject(new DOMException('superseded by a newer request', 'AbortError'));
      // The engine's error keeps what it names (kind, column, operator, offset).
      else if (error !== undefined) p.reject(Object.assign(new Error(error), fields));
      else {
        const where = result?.computed ?? result?.result?.computed;
        if (where) this.oncomputed?.(where);
        p.resolve(result);
      }
    });
    port.addEventListener('messageerror', () => {
      this.#fail(new Error('a message from the Sightline worker could not be read'));
    });
  }

  #flush() {
    const held = this.#held ?? [];
    this.#held = null;
    for (const [message, transfer] of held) this.#worker.postMessage(message, transfer);
  }

  /** Runs the engine in this page (inline.js: the wasm inlined, loaded only when needed). */
  #inPage(reason) {
    this.#host = 'starting';
    this.#worker?.terminate();
    this.#worker = null;
    if (!warned) {
      warned = true;
      console.warn(
        `Sightline: the engine worker could not be started (${reason?.message ?? reason}); the engine runs in the page. ` +
          'Serve the package\'s www/ and pkg/ folders and set SightlineClient.workerUrl to keep it off the main thread.',
      );
    }
    import('./inline.js').then(
      ({ inlinePort }) => {
        if (this.#broken) return;
        this.#worker = inlinePort();
        this.#listen(this.#worker);
        this.#host = 'page';
        this.#flush();
      },
      (err) => this.#fail(new Error(`the Sightline engine could not be loaded: ${err?.message ?? err}`)),
    );
  }

  #fail(err) {
    this.#broken = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /**
   * Sends one request; resolves with its result or rejects with the engine's message.
   * Requests with the same `channel` supersede each other: one still queued when a newer
   * one arrives is dropped and rejects with an `AbortError`.
   */
  request(type, args = {}, transfer = [], channel = undefined) {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        const message = { ...args, id, type };
        if (channel !== undefined) message.channel = String(channel);
        if (this.#held) this.#held.push([message, transfer]);
        else this.#worker.postMessage(message, transfer);
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

  /** Drops a partial or failed stream (the rows loaded stay). */
  resetStream() {
    return this.request('resetStream');
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
    return this.request('render', { spec, options, counts: Boolean(extra.counts) }, [], extra.channel);
  }

  /** Runs a query with a HEATMAP calculation and draws it (filters apply). */
  renderQuery(spec, options = {}, extra = {}) {
    return this.request('renderQuery', { spec, options }, [], extra.channel);
  }

  /** Draws a line chart `{ start_time, end_time, granularity, series: [{ name, values }] }`. */
  renderLines(chart, options = {}, extra = {}) {
    return this.request('renderLines', { chart, options }, [], extra.channel);
  }

  /** Runs a query (Honeycomb's query specification); see README.md. */
  query(spec, extra = {}) {
    return this.request('query', { spec }, [], extra.channel);
  }

  /** A query plus its line charts drawn in the worker: `{ result (without series), charts }`. */
  breakdown(spec, lines, extra = {}) {
    return this.request('breakdown', { spec, lines }, [], extra.channel);
  }

  /** Compares a selection with a baseline; see README.md. */
  compare(spec, extra = {}) {
    return this.request('compare', { spec }, [], extra.channel);
  }

  /** Raw events, newest first; see README.md. */
  events(spec, extra = {}) {
    return this.request('events', { spec }, [], extra.channel);
  }

  /** Stops the worker; pending requests reject. */
  terminate() {
    this.#worker?.terminate();
    this.#held = null;
    this.#fail(new Error('the Sightline worker was terminated'));
  }
}

// ---------------------------------------------------------------------------------------
// Source
// ---------------------------------------------------------------------------------------

const MAX_IN_FLIGHT_BYTES = 4 << 20;
const SLICE_BYTES = 1 << 20;

function isArrowTable(x) {
  return x != null && typeof x === 'object' && Array.isArray(x.batches) && x.schema && Array.isArray(x.schema.fields);
}

/** Turns any accepted input into a `Response` or bytes. */
function toInput(input, options) {
  if (typeof input === 'string' || input instanceof URL) return { url: String(input) };
  if (input instanceof Response) return { response: input };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { response: new Response(input), size: input.size };
  if (input instanceof ArrayBuffer) return { bytes: new Uint8Array(input) };
  if (ArrayBuffer.isView(input)) return { bytes: new Uint8Array(input.buffer, input.byteOffset, input.byteLength) };
  if (isArrowTable(input)) {
    // apache-arrow is the page's own copy: its serializer comes from the page too.
    const tableToIPC = options.tableToIPC ?? globalThis.Arrow?.tableToIPC;
    if (typeof tableToIPC !== 'function') {
      throw new TypeError(
        'load(table) needs apache-arrow\'s tableToIPC: pass { tableToIPC } as the second argument ' +
          '(import { tableToIPC } from "apache-arrow")',
      );
    }
    return { bytes: tableToIPC(input, 'stream') };
  }
  throw new TypeError(
    'load() takes a URL, a Uint8Array, an ArrayBuffer, a Blob, a Response or an apache-arrow Table',
  );
}

function event(type, detail) {
  return new CustomEvent(type, { detail });
}

/** Default `local-rows`: the most events computed in the page (see README: measured). */
export const DEFAULT_LOCAL_ROWS = 2_000_000;

/**
 * Where a `src` URL could be answered by the server instead: a Sightline server's
 * `/api/events` naming at most a `source` (a URL that selects rows, with filters, times
 * or a limit, is loaded as it is). `{ baseUrl, source }` or null.
 */
export function remoteOf(url) {
  let u;
  try {
    u = new URL(String(url), globalThis.location?.href ?? 'http://localhost/');
  } catch {
    return null;
  }
  if (!u.pathname.endsWith('/api/events')) return null;
  for (const key of u.searchParams.keys()) {
    if (!['source', 'columns', 'compression', 'batch_rows'].includes(key)) return null;
  }
  const baseUrl = u.origin + u.pathname.slice(0, -'/api/events'.length);
  return { baseUrl, source: u.searchParams.get('source') ?? undefined };
}


/** An error event's detail: the message, and what an engine error names (EngineError's kind, column, operator, offset). */
function errorDetail(err, message) {
  const detail = { message };
  for (const k of ['kind', 'column', 'operator', 'offset']) if (err?.[k] !== undefined) detail[k] = err[k];
  return detail;
}

/**
 * One dataset in one worker, loaded from Arrow IPC streams, plus the context shared by
 * the elements linked to it.
 *
 * Events (on the source, not bubbling): `progress` `{ rows, bytes, totalRows?,
 * totalBytes? }`, `data` (rows were added), `ready` `{ rows, bytes, ms }`, `error`
 * `{ message }`, `context` (filters or time range changed), `select` (a selection was
 * brushed or cleared).
 */
export class SightlineSource extends EventTarget {
  #client = null;
  #options;
  #gen = 0;
  #abort = null;
  #busy = Promise.resolve();
  #schema = null;
  #users = new Set();
  #closed = false;

  /** `loading`, `ready`, `error`, or `idle` before anything was loaded. */
  state = 'idle';
  rows = 0;
  bytes = 0;
  totalBytes = undefined;
  totalRows = undefined;
  loadMs = 0;
  error = null;
  /** Increments whenever rows are added or replaced. */
  version = 0;
  /** Filters and time range every linked element applies: `{ filters, filter_combination?, start_time?, end_time?, time_range? }`. */
  context = { filters: [] };
  /** The brushed selection `{ start_time, end_time, column?, min?, max? }`, or null. */
  selection = null;

  /** Options of every `fetch` of a URL (headers, credentials, mode); `signal` is the source's. */
  fetchInit = undefined;
  /** When queries run on the server (`open` chose `remote`): `{ baseUrl, source, engine, rows }`; else null. */
  remote = null;
  /**
   * Where one trace's spans are: a URL with `{id}` for the trace id, from the server's
   * `X-Sightline-Trace` header on the stream loaded (a Sightline server's `/api/events`
   * or `/api/demo`), or set by the page; null when unknown. `<sightline-trace>` uses it
   * when the loaded rows have no span columns.
   */
  traceUrl = null;
  /** The last answer's `{ where, rows, ms }` (`where`: `browser`, `ClickHouse` or `server`). */
  computed = null;

  /** @param {{ workerUrl?: string | URL, budgetBytes?: number, tableToIPC?: Function, fetchInit?: RequestInit }} [options] */
  constructor(options = {}) {
    super();
    this.#options = options;
    this.fetchInit = options.fetchInit;
  }

  /** The engine client (the worker starts on first use). */
  get client() {
    if (this.#closed) throw new Error('this Sightline source was closed');
    if (!this.#client) {
      this.#client = new SightlineClient({ workerUrl: this.#options.workerUrl });
      this.#client.oncomputed = (c) => {
        this.computed = c;
        this.dispatchEvent(event('computed', c));
      };
    }
    return this.#client;
  }

  /**
   * Opens a `src` URL where its data lives. `mode`: `local` loads the events into the
   * page (as `load`); `remote` leaves them on the server and sends every query,
   * comparison and events page there (a Sightline server's `/api/events` URL only);
   * `auto` (the default) asks the server how many events there are (a COUNT) and loads
   * them when at most `localRows` (default 2,000,000), else works remotely. A URL that
   * is not a plain `/api/events` is always loaded. Resolves with `{ rows, bytes, mode }`.
   */
  async open(url, { mode = 'auto', localRows = DEFAULT_LOCAL_ROWS } = {}) {
    const target = mode === 'local' ? null : remoteOf(url);
    if (!target) {
      if (mode === 'remote') throw new Error(`mode="remote" needs a Sightline server's /api/events URL, not ${String(url)}`);
      return { ...(await this.load(url)), mode: 'local' };
    }
    const headers = this.fetchInit?.headers;
    const gen = ++this.#gen;
    this.#abort?.abort();
    this.error = null;
    this.#setState('loading');
    try {
      const sources = await fetch(`${target.baseUrl}/api/sources`, { ...(this.fetchInit ?? {}) }).then((r) => (r.ok ? r.json() : { sources: [] }));
      const info = (sources.sources ?? []).find((x) => x.name === target.source) ?? (target.source ? null : sources.sources?.[0]);
      const engine = info?.kind === 'clickhouse' ? 'ClickHouse' : 'server';
      const rd = new RemoteDataset(target.source, { baseUrl: target.baseUrl, fetchInit: this.fetchInit ?? {} });
      const count = await rd.query({ disable_series: true });
      if (gen !== this.#gen) throw new DOMException('superseded by a newer load', 'AbortError');
      const rows = count.matched;
      if (mode === 'auto' && rows <= localRows) return { ...(await this.load(url)), mode: 'local' };
      // A page of the newest events gives the columns (and their types) to the worker.
      const sample = new URL(String(url), globalThis.location?.href);
      sample.searchParams.set('limit', '1000');
      sample.searchParams.set('order', 'newest');
      await this.#start(sample.href, { quiet: true }, false);
      if (gen + 1 !== this.#gen) throw new DOMException('superseded by a newer load', 'AbortError');
      await this.client.request('remote', { baseUrl: target.baseUrl, source: target.source, headers, engine, rows });
      this.remote = { baseUrl: target.baseUrl, source: target.source, engine, rows };
      this.rows = rows;
      this.version += 1;
      this.#setState('ready');
      this.dispatchEvent(event('ready', { rows, bytes: this.bytes, ms: this.loadMs, remote: this.remote }));
      return { rows, bytes: this.bytes, mode: 'remote' };
    } catch (err) {
      if ((this.#gen === gen || this.#gen === gen + 1) && err?.name !== 'AbortError') {
        this.error = err?.message || String(err);
        this.#setState('error');
        this.dispatchEvent(event('error', errorDetail(err, this.error)));
      }
      throw err;
    }
  }

  /** Whether a worker is running. */
  get running() {
    return this.#client !== null;
  }

  /** Registers an element using the source; `release` ends the worker after the last one leaves. */
  retain(user) {
    this.#users.add(user);
  }
  release(user) {
    this.#users.delete(user);
    if (this.#users.size === 0 && this.#options.owned) this.close();
  }

  /** Ends the worker and drops the data. */
  close() {
    this.#abort?.abort();
    this.#gen += 1;
    this.#client?.terminate();
    this.#client = null;
    this.#closed = true;
    this.rows = 0;
    this.state = 'idle';
  }

  /** The columns (cached until the data changes). */
  schema() {
    if (!this.#schema || this.#schema.version !== this.version) {
      this.#schema = { version: this.version, promise: this.client.schema() };
    }
    return this.#schema.promise;
  }

  /**
   * Replaces the data with an Arrow IPC stream: a URL (fetched streaming), bytes, a
   * `Blob`, a `Response`, or an apache-arrow `Table`. Resolves with `{ rows, bytes }`.
   */
  load(input, options = {}) {
    return this.#start(input, options, false);
  }

  /** Adds the batches of another Arrow IPC stream to the data (a live tail). */
  append(input, options = {}) {
    return this.#start(input, options, true);
  }

  async #start(input, options, append) {
    const source = toInput(input, { ...this.#options, ...options });
    const controller = new AbortController();
    if (!append) {
      this.#abort?.abort();
      this.#abort = controller;
    }
    const gen = append ? this.#gen : ++this.#gen;
    // Loads run one after another; a replacing load does not wait for older ones.
    const previous = append ? this.#busy : Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.#run(gen, source, controller, append, Boolean(options.quiet)));
    this.#busy = run.catch(() => {});
    return run;
  }

  #quietGen = -1;

  async #run(gen, source, controller, append, quiet = false) {
    const client = this.client;
    if (quiet) this.#quietGen = gen;
    const started = performance.now();
    if (!append) this.remote = null;
    if (!append && source.url !== undefined) this.traceUrl = null;
    if (!append) {
      this.rows = 0;
      this.bytes = 0;
      this.version += 1;
      this.selection = null;
      this.error = null;
    }
    this.totalBytes = undefined;
    this.totalRows = undefined;
    this.#setState('loading');
    try {
      if (append) await client.resetStream();
      else await client.reset(this.#options.budgetBytes === undefined ? {} : { budgetBytes: this.#options.budgetBytes });
      if (gen !== this.#gen) throw new DOMException('superseded by a newer load', 'AbortError');
      if (source.url !== undefined) {
        // `fetchInit` carries what the page's API needs (an Authorization header, credentials).
        const response = await fetch(source.url, { ...(this.fetchInit ?? {}), signal: controller.signal });
        await this.#consume(gen, client, response);
      } else if (source.response) {
        await this.#consume(gen, client, source.response, source.size);
      } else {
        await this.#consumeBytes(gen, client, source.bytes);
      }
      if (gen !== this.#gen) throw new DOMException('superseded by a newer load', 'AbortError');
      const done = await client.finish();
      if (gen !== this.#gen) throw new DOMException('superseded by a newer load', 'AbortError');
      this.rows = done.rowCount;
      this.version += 1;
      this.loadMs = performance.now() - started;
      // A sample loaded for `open` in remote mode: it announces itself once remote.
      if (quiet) return { rows: this.rows, bytes: this.bytes };
      this.#emitProgress();
      this.#setState('ready');
      this.dispatchEvent(event('ready', { rows: this.rows, bytes: this.bytes, ms: this.loadMs }));
      return { rows: this.rows, bytes: this.bytes };
    } catch (err) {
      if (gen === this.#gen && err?.name !== 'AbortError') {
        // Rows of batches completed before the fault stay queryable.
        try {
          const stats = await client.stats();
          this.rows = stats.rowCount;
          await client.resetStream();
        } catch {
          // the worker is gone
        }
        this.version += 1;
        this.error = err?.message || String(err);
        this.#setState('error');
        this.dispatchEvent(event('error', errorDetail(err, this.error)));
      }
      throw err;
    }
  }

  #setState(state) {
    this.state = state;
    this.dispatchEvent(event('state', { state }));
  }

  async #consume(gen, client, response, sizeHint) {
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
    this.totalBytes = sizeHint ?? (length > 0 && !encoded ? length : undefined);
    const rows = Number(response.headers.get('X-Sightline-Rows'));
    const trace = response.headers.get('X-Sightline-Trace');
    if (trace) {
      // Resolved against the stream's URL; `{id}` survives resolution percent-encoded.
      const base = response.url || globalThis.location?.href;
      try {
        this.traceUrl = new URL(trace, base).href.replaceAll('%7Bid%7D', '{id}');
      } catch {
        // a header that is not a URL: no trace link
      }
    }
    this.totalRows = rows > 0 ? this.rows + rows : undefined;
    this.#emitProgress();
    if (!response.body) return;
    const reader = response.body.getReader();
    const inFlight = [];
    let inFlightBytes = 0;
    let failure = null;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (gen !== this.#gen) {
          reader.cancel().catch(() => {});
          return;
        }
        if (failure) break;
        const size = value.byteLength;
        this.bytes += size;
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

  async #consumeBytes(gen, client, bytes) {
    this.totalBytes = bytes.byteLength;
    const pushes = [];
    let failure = null;
    for (let at = 0; at < bytes.byteLength && !failure; at += SLICE_BYTES) {
      const part = bytes.subarray(at, Math.min(bytes.byteLength, at + SLICE_BYTES));
      this.bytes += part.byteLength;
      pushes.push(
        client.push(part).then(
          (r) => this.#pushed(gen, r),
          (err) => {
            failure ??= err;
          },
        ),
      );
      if (pushes.length >= 16) await pushes.shift();
      if (gen !== this.#gen) return;
    }
    await Promise.all(pushes);
    if (failure) throw failure;
  }

  #pushed(gen, r) {
    if (gen !== this.#gen || gen === this.#quietGen) return;
    this.rows = r.rowCount;
    this.#emitProgress();
    if (r.rows > 0) {
      this.version += 1;
      this.dispatchEvent(event('data', { rows: this.rows }));
    }
  }

  #emitProgress() {
    const detail = { bytes: this.bytes, rows: this.rows };
    if (this.totalBytes !== undefined) detail.totalBytes = this.totalBytes;
    if (this.totalRows !== undefined) detail.totalRows = this.totalRows;
    this.dispatchEvent(event('progress', detail));
  }

  /** Replaces the shared context (filters, time range) and tells the linked elements. */
  setContext(context, cause = {}) {
    const next = { filters: [], ...context };
    next.filters = Array.isArray(next.filters) ? next.filters : [];
    this.context = next;
    this.dispatchEvent(event('context', { context: next, ...cause }));
  }

  /** Adds one filter `{ column, op, value }` to the context (replacing an equal one). */
  addFilter(filter, cause = {}) {
    const same = (f) => f.column === filter.column && f.op === filter.op && JSON.stringify(f.value) === JSON.stringify(filter.value);
    const filters = this.context.filters.filter((f) => !same(f));
    this.setContext({ ...this.context, filters: [...filters, filter] }, cause);
  }

  /** Deploys and incidents drawn on every chart of the source: `[{ time, label, kind }]`. */
  markers = [];

  /** Sets the markers (time: unix seconds; kind: `deploy`, `incident`, ...); every chart redraws. */
  setMarkers(markers, cause = {}) {
    const list = Array.isArray(markers) ? markers : [];
    this.markers = list
      .filter((m) => m && Number.isFinite(Number(m.time)))
      .map((m) => ({ time: Number(m.time), label: String(m.label ?? ''), kind: String(m.kind ?? 'deploy') }));
    this.dispatchEvent(event('markers', { markers: this.markers, ...cause }));
  }

  /** Sets or clears (null) the brushed selection. */
  select(selection, cause = {}) {
    this.selection = selection;
    this.dispatchEvent(event('select', { selection, ...cause }));
  }
}

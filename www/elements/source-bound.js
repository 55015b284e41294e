// The base every element shares: `SourceBound`, an element bound to a data source (its
// `src`, `source` attributes and properties, `load`/`append`, the source's events), and
// the helpers that read where a source is computed and what context it carries.

import { DEFAULT_LOCAL_ROWS, SightlineSource } from '../engine/client.js';

/**
 * Where an element's `src` is computed: `mode="auto|local|remote"` (default `auto`) and
 * `local-rows` (default 2,000,000), see `SightlineSource.open`.
 */
export function openOptions(element) {
  const mode = element.getAttribute('mode') ?? 'auto';
  const rows = Number(element.getAttribute('local-rows'));
  return { mode: ['auto', 'local', 'remote'].includes(mode) ? mode : 'auto', localRows: rows > 0 ? rows : DEFAULT_LOCAL_ROWS };
}

/** The element with `id` in `node`'s shadow root or document, else the page's. */
export function elementById(node, id) {
  return node.getRootNode().getElementById?.(id) ?? document.getElementById(id);
}

/** Finds the source an element names with `source="id"`. */
export function sourceById(node, id) {
  const target = elementById(node, id);
  return target?.source instanceof SightlineSource ? target.source : null;
}

/**
 * Shared plumbing of every element bound to a source: the `src`, `source` attributes and
 * properties, `load`/`append`, and subscription to the source's events.
 */
export class SourceBound extends HTMLElement {
  #source = null;
  #owned = false;
  #listeners = [];
  #explicit = null;
  connectedOnce = false;

  /** The source: explicit, named by `source="id"`, or private (created for `src`/`load`). */
  get source() {
    return this.#source;
  }
  set source(s) {
    if (s !== null && !(s instanceof SightlineSource)) throw new TypeError('source must be a SightlineSource');
    this.#explicit = s;
    this.#bind(s);
  }

  get src() {
    return this.getAttribute('src') ?? '';
  }
  set src(v) {
    if (v == null) this.removeAttribute('src');
    else this.setAttribute('src', String(v));
  }

  /**
   * Options for fetching `src` (e.g. `{ headers: { Authorization: 'Bearer ...' } }`, for a
   * server started with `--token`); set before `src`, or call `reload`-like `load(src)`.
   */
  get fetchInit() {
    return this.#fetchInit;
  }
  set fetchInit(v) {
    this.#fetchInit = v ?? undefined;
    if (this.#source && this.#owned) this.#source.fetchInit = this.#fetchInit;
  }
  #fetchInit = undefined;

  /** Events of the source this element reacts to; override. */
  onSource(_type, _detail) {}

  #bind(s) {
    if (this.#source === s) return;
    for (const off of this.#listeners.splice(0)) off();
    const old = this.#source;
    const wasOwned = this.#owned;
    this.#source = s;
    this.#owned = false;
    if (old) old.release(this);
    if (old && wasOwned) old.close();
    if (!s) return;
    s.retain(this);
    for (const type of ['progress', 'data', 'ready', 'error', 'context', 'select', 'state', 'computed', 'markers']) {
      const on = (e) => this.onSource(type, e.detail);
      s.addEventListener(type, on);
      this.#listeners.push(() => s.removeEventListener(type, on));
    }
    this.onSource('bind', {});
  }

  /** The source, creating a private one if there is none. */
  ensureSource() {
    if (!this.#source) {
      const s = new SightlineSource({ owned: true, fetchInit: this.#fetchInit });
      this.#bind(s);
      this.#owned = true;
    }
    return this.#source;
  }

  /** Whether this element owns (and loads) its source. */
  get ownsSource() {
    return this.#owned;
  }

  connectSource() {
    const id = this.getAttribute('source');
    if (this.#explicit) this.#bind(this.#explicit);
    else if (id) {
      const s = sourceById(this, id);
      if (s) this.#bind(s);
      else {
        // The <sightline-source> may be defined later in the page.
        customElements.whenDefined('sightline-source').then(() =>
          queueMicrotask(() => {
            if (this.isConnected && !this.#source) {
              const later = sourceById(this, id);
              if (later) this.#bind(later);
            }
          }),
        );
      }
    }
    if (this.src && this.#source === null) this.ensureSource();
    if (this.src && this.#owned && this.#source.state === 'idle') this.#loadSrc(this.src);
  }

  /** Called a task after disconnection if the element was not re-inserted. */
  disconnectSource() {
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.#bind(null);
      this.released();
    });
  }

  /**
   * Called once the element has left the document: drop canvas backing stores now.
   * Chromium keeps a detached canvas's pixels (megabytes at HiDPI) until the element is
   * collected, and measurably longer; zero-sizing releases them at once.
   */
  released() {
    for (const c of this.shadowRoot?.querySelectorAll('canvas') ?? []) {
      c.width = 0;
      c.height = 0;
    }
  }

  srcChanged(value) {
    if (!this.isConnected || !value) return;
    if (!this.#source || this.#owned) {
      this.ensureSource();
      this.#loadSrc(value);
    }
  }

  #loadSrc(src) {
    this.ensureSource()
      .open(src, openOptions(this))
      .catch(() => {}); // reported through the source's error event
  }

  /**
   * Loads an Arrow IPC stream (a URL, bytes, a Blob, a Response or an apache-arrow Table),
   * replacing the data. Resolves with `{ rows, bytes }`.
   */
  load(input, options) {
    return this.ensureSource().load(input, options);
  }

  /**
   * Adds the batches of another stream to the data (tailing new events). Not `append`:
   * that is the DOM's own `Element.append`, which an element must keep.
   */
  appendStream(input, options) {
    return this.ensureSource().append(input, options);
  }

  /** The columns of the loaded data. */
  schema() {
    return this.ensureSource().schema();
  }

  /** `{ rowCount, bytesConsumed, memoryBytes }`. */
  stats() {
    return this.ensureSource().client.stats();
  }

  /** The engine client. */
  get client() {
    return this.ensureSource().client;
  }

  /** `loading`, `ready`, `error`, or `idle`. */
  get state() {
    return this.#source?.state ?? 'idle';
  }
  /** Rows loaded so far. */
  get rows() {
    return this.#source?.rows ?? 0;
  }
  /** The last load error, or null. */
  get error() {
    return this.#source?.error ?? null;
  }
}

/** The query context of a source as query-spec fields. */
/** A brushed selection `{ start_time, end_time, column?, min?, max?, filters? }` as a
 * spec's window and filters. */
export function selectionSpec(sel) {
  const filters = [];
  if (sel.column && sel.min !== undefined) filters.push({ column: sel.column, op: '>=', value: sel.min });
  if (sel.column && sel.max !== undefined) filters.push({ column: sel.column, op: '<', value: sel.max });
  return { start_time: sel.start_time, end_time: sel.end_time, filters: [...filters, ...(sel.filters ?? [])] };
}

/**
 * Crossfilter: the source's context narrowed by its brushed selection, which linked
 * parts (breakdown, events) show while a region is brushed; `part` opts out with the
 * `ignore-selection` attribute. With `OR` filters the selection's value range cannot
 * join them in one flat list: only its time window applies (`partial`).
 */
export function linkedSpec(source, part) {
  const ctx = contextSpec(source);
  const sel = source?.selection;
  if (!sel || part?.hasAttribute?.('ignore-selection')) return ctx;
  const s = selectionSpec(sel);
  const out = { ...ctx };
  delete out.time_range;
  if (s.start_time !== undefined) out.start_time = s.start_time;
  if (s.end_time !== undefined) out.end_time = s.end_time;
  const or = ctx.filter_combination === 'OR' && ctx.filters.length > 0;
  if (!or) out.filters = [...ctx.filters, ...s.filters];
  return out;
}

/**
 * Loads markers for `source` from a `markers` attribute: a URL answering
 * `{ markers: [{ time, label, kind }] }` (the server's `/api/markers`) or a JSON list.
 */
export async function loadMarkers(source, value, fetchInit) {
  if (!source || !value) return;
  const text = value.trim();
  try {
    const list = text.startsWith('[') ? JSON.parse(text) : (await (await fetch(text, fetchInit ?? {})).json()).markers;
    source.setMarkers(list);
  } catch (err) {
    source.dispatchEvent(new CustomEvent('error', { detail: { message: `markers: ${err?.message ?? err}` } }));
  }
}

export function contextSpec(source) {
  const c = source?.context ?? { filters: [] };
  const out = { filters: c.filters ?? [] };
  for (const k of ['filter_combination', 'start_time', 'end_time', 'time_range', 'time_column', 'calculated_fields']) if (c[k] !== undefined) out[k] = c[k];
  return out;
}

/** `<sightline-heatmap>`: a streaming latency heatmap. */

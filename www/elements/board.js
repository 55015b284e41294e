// <sightline-board>: a saved report, several panels over one source and one time range,
// linked: a brush on a heatmap panel or a click on a group narrows every other panel.
//
// A board is JSON (`BOARD_KINDS` below, README "Boards"); every panel is a query
// specification drawn by the existing parts (heatmap, breakdown), so a panel answers
// exactly what the same spec answers in the explorer. Data-derived text only goes
// through textContent and attribute values.

import { displayText, el, emit, lazySheet, writeHashLater } from '../shared/ui.js';
import { filterChip, filterText, removeButton, selectionChip } from '../shared/chips.js';
import { calcName } from '../shared/spec-text.js';
import { partsStyle } from './part.js';
import { SourceBound, loadMarkers } from './source-bound.js';
import { download } from './table.js';

/** What a panel draws its query as. */
export const BOARD_KINDS = Object.freeze(['heatmap', 'line', 'bars', 'table', 'number']);
const TIME_KEYS = ['time_range', 'start_time', 'end_time'];
const URL_KEY = 'board';

const BOARD_STYLE = `
:host { --sightline-height: 260px; }
.board-head { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
.board-head h2 { margin: 0; font-size: 16px; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
.panel { margin: 0; border: 1px solid var(--sightline-border); border-radius: 8px; padding: 8px 10px; min-width: 0; }
.panel.wide { grid-column: 1 / -1; }
.panel header { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; }
.panel header h3 { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.panel sightline-breakdown { --sightline-chart-height: 200px; --sightline-table-height: 260px; }
@media (max-width: 720px) { .grid { grid-template-columns: minmax(0, 1fr); } }
`;

const boardStyle = lazySheet(BOARD_STYLE);

/** A board error: names the field (`panels[2].kind`) and what was expected. */
export class BoardError extends Error {
  constructor(field, message) {
    super(`board: ${field}: ${message}`);
    this.name = 'BoardError';
    this.field = field;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks and normalises a board (an object or its JSON text):
 * `{ v: 1, title, time_range?, start_time?, end_time?, panels: [{ title, kind, query, width }] }`.
 * Throws a `BoardError` naming the first field that is wrong.
 */
export function parseBoard(input) {
  let b = input;
  if (typeof input === 'string') {
    try {
      b = JSON.parse(input);
    } catch (err) {
      throw new BoardError('JSON', err.message);
    }
  }
  if (!isObject(b)) throw new BoardError('board', 'expected an object with title and panels');
  if (b.v !== undefined && b.v !== 1) throw new BoardError('v', `version ${JSON.stringify(b.v)} is not 1`);
  if (b.title !== undefined && typeof b.title !== 'string') throw new BoardError('title', 'expected a string');
  const out = { v: 1, title: b.title ?? 'Board', panels: [] };
  for (const k of TIME_KEYS) {
    if (b[k] === undefined || b[k] === null) continue;
    if (typeof b[k] !== 'number' || !Number.isFinite(b[k])) throw new BoardError(k, 'expected a number of seconds');
    out[k] = b[k];
  }
  if (!Array.isArray(b.panels)) throw new BoardError('panels', 'expected a list of panels');
  b.panels.forEach((p, i) => out.panels.push(parsePanel(p, `panels[${i}]`)));
  const known = new Set(['v', 'title', 'panels', ...TIME_KEYS]);
  const unknown = Object.keys(b).find((k) => !known.has(k));
  if (unknown) throw new BoardError(unknown, `unknown field (a board has v, title, ${TIME_KEYS.join(', ')}, panels)`);
  return out;
}

function parsePanel(p, at) {
  if (!isObject(p)) throw new BoardError(at, 'expected an object with kind and query');
  if (!BOARD_KINDS.includes(p.kind)) throw new BoardError(`${at}.kind`, `${JSON.stringify(p.kind)} is not one of ${BOARD_KINDS.join(', ')}`);
  const query = p.query ?? {};
  if (!isObject(query)) throw new BoardError(`${at}.query`, 'expected a query specification (an object)');
  if (query.calculations !== undefined && !Array.isArray(query.calculations)) throw new BoardError(`${at}.query.calculations`, 'expected a list');
  if (query.filters !== undefined && !Array.isArray(query.filters)) throw new BoardError(`${at}.query.filters`, 'expected a list');
  if (query.breakdowns !== undefined && !Array.isArray(query.breakdowns)) throw new BoardError(`${at}.query.breakdowns`, 'expected a list');
  if (p.kind === 'heatmap') {
    const heat = (query.calculations ?? []).filter((c) => c?.op === 'HEATMAP');
    if (heat.length > 1) throw new BoardError(`${at}.query.calculations`, 'a heatmap panel draws one HEATMAP calculation');
  }
  if (p.title !== undefined && typeof p.title !== 'string') throw new BoardError(`${at}.title`, 'expected a string');
  if (p.width !== undefined && p.width !== 1 && p.width !== 2) throw new BoardError(`${at}.width`, 'expected 1 or 2 (columns of the grid)');
  return { title: p.title ?? panelTitle(p.kind, query), kind: p.kind, query: structuredClone(query), width: p.width ?? (p.kind === 'heatmap' || p.kind === 'line' ? 2 : 1) };
}

/** A title for a panel that has none: `P99(duration_ms) by build_id`. */
export function panelTitle(kind, query) {
  const calcs = (query.calculations ?? [{ op: 'COUNT' }]).filter((c) => kind === 'heatmap' || c.op !== 'HEATMAP');
  const what = (calcs.length ? calcs : [{ op: 'COUNT' }]).map((c) => c.name || calcName(c)).join(', ');
  const by = query.breakdowns?.length ? ` by ${query.breakdowns.join(', ')}` : '';
  const where = query.filters?.length ? ` where ${query.filters.map(filterText).join(' and ')}` : '';
  return `${what}${by}${where}`;
}

/**
 * `<sightline-board board="/boards/checkout.json">`: a report of panels, each a query
 * drawn as a heatmap, line chart, bars, table or single number, over one source and one
 * time range; linked like the explorer's parts. `board` is a URL or the JSON itself;
 * the `board` property takes the object. `src`/`source` as every element;
 * `loading="lazy"` opens `src` only when the board is first seen; `sync-url` keeps the
 * board in the page URL's hash; `markers`, `time-zone`.
 */
export class SightlineBoard extends SourceBound {
  static observedAttributes = ['src', 'source', 'board', 'sync-url', 'time-zone', 'markers', 'loading'];
  #root;
  #ui;
  #board = { v: 1, title: 'Board', panels: [] };
  #loaded = false;
  #seen = null;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.adoptedStyleSheets = [partsStyle(), boardStyle()];
    const title = el('h2', { part: 'title', text: 'Board' });
    const status = el('span', { class: 'muted', part: 'status', role: 'status', 'aria-live': 'polite' });
    const exportButton = el('button', { type: 'button', part: 'export', text: 'Export JSON', 'aria-label': 'Export the board as JSON' });
    const file = el('input', { type: 'file', accept: 'application/json,.json', hidden: true, 'aria-label': 'Board JSON file' });
    const importButton = el('button', { type: 'button', part: 'import', text: 'Import JSON', 'aria-label': 'Import a board from JSON' });
    exportButton.addEventListener('click', () => this.exportJSON());
    importButton.addEventListener('click', () => file.click());
    file.addEventListener('change', async () => {
      const f = file.files?.[0];
      file.value = '';
      if (f) this.importJSON(await f.text());
    });
    const chips = el('div', { class: 'filters-bar', part: 'filters', role: 'group', 'aria-label': 'What narrows every panel' });
    const grid = el('div', { class: 'grid', part: 'grid' });
    this.#root.append(
      el('div', { class: 'board-head', part: 'header' }, title, status, el('span', { class: 'spacer' }), exportButton, importButton, file),
      chips,
      grid,
    );
    this.#ui = { title, status, chips, grid };
    // Crossfilter: a click on a group (a table row, a bar) filters every panel by it.
    grid.addEventListener('sightline-row-click', (e) => {
      if (e.detail.kind !== 'result' || !this.source) return;
      const breakdowns = e.target?.query?.breakdowns ?? [];
      for (const b of breakdowns) {
        if (!(b in e.detail.row)) continue;
        const v = e.detail.row[b];
        this.source.addFilter(v === null || v === undefined ? { column: b, op: 'does-not-exist' } : { column: b, op: '=', value: v }, { origin: this });
      }
    });
    this.#hashchange = () => this.#readUrl();
  }

  #hashchange;

  /** The board as JSON-ready data (its time range is the source's). */
  get board() {
    const out = structuredClone(this.#board);
    const ctx = this.source?.context;
    for (const k of TIME_KEYS) {
      delete out[k];
      if (ctx?.[k] !== undefined) out[k] = ctx[k];
    }
    return out;
  }
  set board(value) {
    this.#set(parseBoard(value), true);
  }

  /** Adds panels (`{ title?, kind, query, width? }`); fires `sightline-board-change`. */
  addPanel(...panels) {
    const parsed = panels.map((p, i) => parsePanel(p, `panel ${i}`));
    this.#set({ ...this.#board, panels: [...this.#board.panels, ...parsed] }, false);
    return this.#board.panels.length;
  }

  /** Removes the i-th panel. */
  removePanel(i) {
    const panels = this.#board.panels.filter((_, k) => k !== i);
    this.#set({ ...this.#board, panels }, false);
  }

  toJSON() {
    return this.board;
  }

  /** Downloads the board as `sightline-board.json`. */
  exportJSON(filename = 'sightline-board.json') {
    download(new Blob([`${JSON.stringify(this.board, null, 2)}\n`], { type: 'application/json' }), filename);
  }

  /**
   * Replaces the board with one read from JSON text. A bad board changes nothing: its
   * error is shown and fired as `sightline-error`, and returned.
   */
  importJSON(text) {
    try {
      this.board = text;
      return null;
    } catch (err) {
      this.#fail(err);
      return err;
    }
  }

  #fail(err) {
    const message = err?.message || String(err);
    this.#ui.status.classList.add('error');
    this.#ui.status.textContent = displayText(message);
    emit(this, 'sightline-error', { message, ...(err?.field ? { field: err.field } : {}) });
  }

  /** Sets the board; `withTime`: its time range becomes the source's. */
  #set(board, withTime) {
    this.#board = board;
    this.#ui.status.classList.remove('error');
    this.#ui.status.textContent = `${board.panels.length} ${board.panels.length === 1 ? 'panel' : 'panels'}`;
    if (withTime) this.#applyTime();
    this.#render();
    this.#saveUrl();
    emit(this, 'sightline-board-change', { board: this.board });
  }

  #applyTime() {
    const s = this.source;
    if (!s) return;
    const ctx = { ...s.context };
    let changed = false;
    for (const k of TIME_KEYS) {
      const v = this.#board[k];
      if (ctx[k] !== v) {
        changed = true;
        if (v === undefined) delete ctx[k];
        else ctx[k] = v;
      }
    }
    if (changed) s.setContext(ctx, { origin: this });
  }

  #render() {
    this.#ui.title.textContent = displayText(this.#board.title);
    const tz = this.getAttribute('time-zone');
    const panels = this.#board.panels.map((p, i) => {
      const part = this.#partOf(p);
      if (tz) part.setAttribute('time-zone', tz);
      if (this.source) part.source = this.source;
      const title = displayText(p.title);
      return el(
        'figure',
        { class: p.width === 2 ? 'panel wide' : 'panel', part: 'panel', 'data-kind': p.kind, role: 'group', 'aria-label': title },
        el('header', {}, el('h3', { text: title, title }), removeButton(`Remove panel ${p.title}`, () => this.removePanel(i))),
        part,
      );
    });
    this.#ui.grid.replaceChildren(...panels);
    if (!panels.length) this.#ui.grid.append(el('p', { class: 'muted', text: 'No panels yet: import a board, or save a view from an explorer.' }));
  }

  /** The element that draws a panel: a heatmap, or a breakdown shaped by the kind. */
  #partOf(p) {
    const q = p.query;
    if (p.kind === 'heatmap') {
      const h = document.createElement('sightline-heatmap');
      const calc = (q.calculations ?? []).find((c) => c.op === 'HEATMAP');
      if (calc?.column) h.setAttribute('column', calc.column);
      if (q.filters?.length) h.setAttribute('filters', JSON.stringify(q.filters));
      return h;
    }
    const b = document.createElement('sightline-breakdown');
    b.setAttribute('charts', { line: 'lines', bars: 'bars', table: 'none', number: 'number' }[p.kind]);
    if (p.kind !== 'table') b.setAttribute('table', 'none');
    b.query = { ...q, calculations: (q.calculations ?? [{ op: 'COUNT' }]).filter((c) => c.op !== 'HEATMAP') };
    return b;
  }

  #showChips() {
    const s = this.source;
    const sel = s?.selection;
    const filters = s?.context?.filters ?? [];
    this.#ui.chips.replaceChildren(
      ...(sel
        ? [
            selectionChip(sel, this.getAttribute('time-zone'), () => {
              s.select(null, { origin: this });
              emit(this, 'sightline-select', { selection: null });
            }),
          ]
        : []),
      ...filters.map((f, i) =>
        filterChip(f, () => {
          s.setContext({ ...s.context, filters: s.context.filters.filter((_, k) => k !== i) }, { origin: this });
        }),
      ),
    );
  }

  onSource(type, detail) {
    if (type === 'bind') {
      for (const part of this.#ui.grid.querySelectorAll('sightline-heatmap, sightline-breakdown')) part.source = this.source;
      this.#applyTime();
      this.#showChips();
    }
    if (type === 'context' || type === 'select') this.#showChips();
    if (type === 'progress' && this.ownsSource) emit(this, 'sightline-progress', detail);
    if (type === 'error' && this.ownsSource) emit(this, 'sightline-error', detail);
    if (type === 'ready' && this.ownsSource) emit(this, 'sightline-ready', detail);
  }

  connectedCallback() {
    for (const prop of ['fetchInit', 'source', 'board']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.connectedOnce = true;
    addEventListener('hashchange', this.#hashchange);
    if (!this.#loaded) {
      this.#loaded = true;
      if (!(this.hasAttribute('sync-url') && this.#readUrl())) this.#loadBoard(this.getAttribute('board'));
    }
    if (this.getAttribute('loading') === 'lazy' && this.src && !this.source) {
      this.#seen?.disconnect();
      this.#seen = new IntersectionObserver((entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        this.#seen.disconnect();
        this.#seen = null;
        this.#connect();
      });
      this.#seen.observe(this);
    } else this.#connect();
  }

  #connect() {
    this.connectSource();
    if (this.getAttribute('markers')) loadMarkers(this.source, this.getAttribute('markers'), this.fetchInit);
  }

  disconnectedCallback() {
    removeEventListener('hashchange', this.#hashchange);
    this.#seen?.disconnect();
    this.#seen = null;
    this.disconnectSource();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue || !this.connectedOnce) return;
    if (name === 'src') {
      if (!this.#seen) this.srcChanged(newValue);
    } else if (name === 'source') this.connectSource();
    else if (name === 'board') this.#loadBoard(newValue);
    else if (name === 'markers') loadMarkers(this.source, newValue, this.fetchInit);
    else if (name === 'time-zone') this.#render();
  }

  async #loadBoard(value) {
    const text = (value ?? '').trim();
    if (!text) return this.#render();
    try {
      if (text.startsWith('{')) this.board = text;
      else {
        const response = await fetch(new URL(text, location.href), this.fetchInit ?? {});
        if (!response.ok) throw new Error(`board ${text}: HTTP ${response.status}`);
        this.board = await response.text();
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  #saveUrl() {
    if (!this.hasAttribute('sync-url') || !this.connectedOnce) return;
    writeHashLater(URL_KEY, () => JSON.stringify(this.board));
  }

  /** Restores the board from the URL's hash; whether there was one. */
  #readUrl() {
    if (!this.hasAttribute('sync-url')) return false;
    const raw = new URLSearchParams(location.hash.slice(1)).get(URL_KEY);
    if (!raw) return false;
    if (raw === JSON.stringify(this.board)) return true;
    try {
      this.board = raw;
    } catch (err) {
      this.#fail(new Error(`the link's board could not be read: ${err.message}`));
    }
    return true;
  }
}

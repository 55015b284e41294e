// <sightline-events>: the raw events behind a source's filters, newest first.
//
// Data-derived text only goes through textContent and attribute values.

import { cellText, displayText, el, emit, formatInt, intAttr, jsonListAttr, timeZoneNote } from '../shared/ui.js';
import { Part, channel, listAttr } from './part.js';
import { elementById, linkedSpec } from './source-bound.js';
import { Table } from './table.js';
import { TRACE_NAMES } from './trace.js';

/**
 * `<sightline-events limit="100">`: the raw events behind the source's filters, newest
 * first; click one for every field of the wide event. Extra `filters` (JSON) narrow it,
 * e.g. to one customer.
 */
export class SightlineEvents extends Part {
  static observedAttributes = ['src', 'source', 'limit', 'columns', 'filters', 'time-zone', 'ignore-selection', 'trace-column', 'trace-target'];
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
    if (type === 'context' || type === 'select') this.#limit = 0;
    super.onSource(type, detail);
  }

  /** A brushed selection narrows the events unless `ignore-selection` is set. */
  followsSelection() {
    return !this.hasAttribute('ignore-selection');
  }

  async refresh() {
    if (!this.ready()) return;
    const ctx = linkedSpec(this.source, this);
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
      const traceColumn = this.getAttribute('trace-column') ?? TRACE_NAMES.trace.find((c) => this.#schema.has(c));
      const columns = shown.map((name) => {
        const f = this.#schema.get(name);
        const numeric = f?.role === 'number';
        const column = { key: name, label: name, numeric, format: (v) => cellText(v, f, this.getAttribute('time-zone')) };
        if (name === traceColumn && f?.role === 'string') {
          column.action = (row) => this.openTrace(String(row[name]), row);
          column.actionLabel = () => 'Open this trace';
        }
        return column;
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

  /**
   * Opens trace `traceId`: sets `trace-id` on the `<sightline-trace>` that `trace-target`
   * names (by id), and emits `sightline-trace-open` `{ traceId, row }` (cancelable).
   */
  openTrace(traceId, row = null) {
    const event = {};
    for (const [k, v] of Object.entries(row ?? {})) if (!k.startsWith('__')) event[k] = v;
    const e = new CustomEvent('sightline-trace-open', { bubbles: true, composed: true, cancelable: true, detail: { traceId, row: event } });
    if (!this.dispatchEvent(e)) return;
    const id = this.getAttribute('trace-target');
    const target = id ? elementById(this, id) : null;
    if (target) {
      target.setAttribute('trace-id', traceId);
      target.hidden = false;
      target.scrollIntoView?.({ block: 'nearest' });
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

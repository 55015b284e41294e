// <sightline-trace>: one trace's waterfall, its spans nested under their parents on a time
// axis, errors marked, a span's fields on click.
//
// Data-derived text only goes through textContent and attribute values; bar positions are
// numbers set through the CSSOM (allowed under a strict CSP, unlike style attributes).

import { cellText, displayText, el, emit, formatInt, formatValue, lazySheet, readTheme } from '../shared/ui.js';
import { Part } from './part.js';

/** Column names looked for, in order, when an attribute does not name one. */
export const TRACE_NAMES = Object.freeze({
  trace: ['trace_id', 'trace.trace_id', 'TraceId', 'traceId'],
  span: ['span_id', 'trace.span_id', 'SpanId', 'spanId'],
  parent: ['parent_span_id', 'trace.parent_id', 'ParentSpanId', 'parentSpanId', 'parent_id'],
  name: ['name', 'span_name', 'SpanName', 'operation'],
  service: ['service_name', 'service.name', 'ServiceName', 'resource.service.name'],
  duration: ['duration_ms', 'duration', 'Duration', 'DurationMs'],
  time: ['timestamp', 'Timestamp', 'time', 'start_time', 'StartTime'],
  error: ['error', 'exception.message', 'StatusMessage'],
  status: ['status_code', 'http.status_code', 'StatusCode'],
});

const DURATION_UNITS = { s: 1000, ms: 1, us: 1e-3, ns: 1e-6 };

const TRACE_STYLE = `
.wf { border: 1px solid var(--sightline-border); border-radius: 8px; overflow: hidden; }
.wf-head, .span { display: grid; grid-template-columns: minmax(180px, 38%) 1fr; }
.wf-head { background: var(--sightline-subtle); border-bottom: 1px solid var(--sightline-border); font-size: 11px; }
.wf-head .axis { position: relative; height: 22px; }
.wf-head .axis span { position: absolute; top: 4px; transform: translateX(-50%); white-space: nowrap; color: var(--sightline-muted); }
.wf-head .axis span:first-child { transform: none; }
.wf-head .axis span:last-child { transform: translateX(-100%); }
.wf-head .title { padding: 4px 8px; color: var(--sightline-muted); }
.span { border-bottom: 1px solid var(--sightline-border); cursor: pointer; min-height: 24px; }
.span:last-child { border-bottom: none; }
.span:hover, .span:focus-visible { background: var(--sightline-subtle); }
.span[aria-selected="true"] { background: var(--sightline-subtle); box-shadow: inset 3px 0 var(--sightline-accent); }
.span .label { display: flex; align-items: center; gap: 5px; padding: 2px 8px; overflow: hidden; white-space: nowrap; }
.span .toggle { width: 14px; flex: none; color: var(--sightline-muted); text-align: center; }
.span .svc { color: var(--sightline-muted); flex: none; }
.span .nm { overflow: hidden; text-overflow: ellipsis; unicode-bidi: isolate; }
.span .badge { flex: none; font-size: 11px; padding: 0 5px; border-radius: 8px; color: #fff; background: var(--sightline-error, #cf222e); }
.span .track { position: relative; margin: 0 8px; }
.span .bar { position: absolute; top: 7px; height: 10px; min-width: 2px; border-radius: 2px; }
.span .bar.err { outline: 2px solid var(--sightline-error, #cf222e); outline-offset: 1px; }
.span .dur { margin-left: auto; padding-left: 8px; flex: none; font-size: 11px; color: var(--sightline-muted); font-variant-numeric: tabular-nums; }
.span-detail { padding: 6px 10px 6px 30px; border-bottom: 1px solid var(--sightline-border); background: var(--sightline-bg); }
.services { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; margin: 4px 0 8px; }
`;

const traceStyle = lazySheet(TRACE_STYLE);

/** The first of `candidates` in `columns`, or the attribute's value when set. */
function pick(columns, attr, candidates) {
  if (attr) return columns.includes(attr) ? attr : null;
  return candidates.find((c) => columns.includes(c)) ?? null;
}

/**
 * Spans nested under their parents, each parent's children in start order; spans whose
 * parent is not in the trace are roots too (`orphan`). Returns the depth-first list.
 */
export function spanTree(spans) {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const roots = [];
  for (const s of spans) {
    s.children = [];
    s.orphan = false;
  }
  for (const s of spans) {
    const p = s.parent ? byId.get(s.parent) : undefined;
    if (p && p !== s) p.children.push(s);
    else {
      s.orphan = Boolean(s.parent);
      roots.push(s);
    }
  }
  const order = (a, b) => a.start - b.start || b.duration - a.duration;
  const out = [];
  const seen = new Set();
  const walk = (s, depth) => {
    if (seen.has(s)) return; // a cycle in bad data
    seen.add(s);
    s.depth = depth;
    out.push(s);
    for (const c of s.children.sort(order)) walk(c, depth + 1);
  };
  for (const r of roots.sort(order)) walk(r, 0);
  // Spans only reachable through a cycle: shown at the top level rather than lost.
  for (const s of spans) if (!seen.has(s)) walk(s, 0);
  return out;
}

/**
 * `<sightline-trace trace-id="…">`: the waterfall of one trace. The spans come from the
 * source's own rows when it has span and parent columns, else from the trace endpoint
 * its server announced (`source.traceUrl`), or from `trace-src` (a URL with `{id}`).
 * Column attributes (`span-column`, `parent-column`, `name-column`, `service-column`,
 * `duration-column` with `duration-unit`, `time-column`, `trace-column`) name OTel
 * fields stored under other names.
 */
export class SightlineTrace extends Part {
  static observedAttributes = [
    'src', 'source', 'trace-id', 'trace-src', 'trace-column', 'span-column', 'parent-column', 'name-column',
    'service-column', 'duration-column', 'duration-unit', 'time-column', 'time-zone',
  ];
  #ui;
  #spans = [];
  #collapsed = new Set();
  #selected = null;
  #loaded = null;

  constructor() {
    super();
    this.root.adoptedStyleSheets = [...this.root.adoptedStyleSheets, traceStyle()];
    const status = el('div', { class: 'muted', part: 'status', role: 'status', 'aria-live': 'polite', text: 'No trace selected' });
    const services = el('div', { class: 'services', part: 'services' });
    const list = el('div', { class: 'wf', part: 'waterfall', role: 'tree', 'aria-label': 'Spans of the trace', hidden: true });
    list.addEventListener('keydown', (e) => this.#key(e));
    this.root.append(status, services, list);
    this.#ui = { status, services, list };
  }

  get traceId() {
    return this.getAttribute('trace-id') ?? '';
  }
  set traceId(v) {
    if (v == null || v === '') this.removeAttribute('trace-id');
    else this.setAttribute('trace-id', String(v));
  }

  /** The spans drawn: `[{ id, parent, name, service, start, duration, error, fields, depth }]` (start: unix seconds). */
  get spans() {
    return this.#spans;
  }

  ready() {
    return this.isConnected && Boolean(this.traceId) && (Boolean(this.getAttribute('trace-src')) || super.ready());
  }

  onSource(type, detail) {
    // A trace does not change with filters, selections or appended rows.
    if (type === 'context' || type === 'select' || type === 'data') return;
    super.onSource(type, detail);
  }

  async refresh() {
    const id = this.traceId;
    if (!id) {
      this.#spans = [];
      this.#ui.list.hidden = true;
      this.#ui.services.replaceChildren();
      this.#ui.status.textContent = 'No trace selected';
      return;
    }
    if (!this.ready()) return;
    const key = `${id}\u0000${this.source?.version ?? ''}\u0000${this.getAttribute('trace-src') ?? ''}`;
    this.#ui.status.classList.remove('error');
    if (this.#loaded !== key) this.#ui.status.textContent = `Loading trace ${displayText(id)}…`;
    try {
      const result = await this.latest.run(() => this.#fetch(id));
      this.#loaded = key;
      this.#show(id, result);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      this.#spans = [];
      this.#ui.list.hidden = true;
      this.#ui.services.replaceChildren();
      this.#ui.status.classList.add('error');
      this.#ui.status.textContent = displayText(err?.message || String(err));
      emit(this, 'sightline-error', { message: err?.message || String(err) });
    }
  }

  /** `{ columns, rows }` of the trace's spans, from wherever they are. */
  async #fetch(id) {
    const template = this.getAttribute('trace-src');
    if (!template && this.source) {
      const schema = await this.source.schema();
      const names = schema.map((f) => f.name);
      const span = pick(names, this.getAttribute('span-column'), TRACE_NAMES.span);
      const parent = pick(names, this.getAttribute('parent-column'), TRACE_NAMES.parent);
      const trace = pick(names, this.getAttribute('trace-column'), TRACE_NAMES.trace);
      if (span && parent && trace && !this.source.remote) {
        const r = await this.source.client.events(
          { filters: [{ column: trace, op: '=', value: id }], order: 'oldest', limit: 10000 },
          { channel: this.channel },
        );
        return { ...r, where: 'the loaded events' };
      }
    }
    const url = template || this.source?.traceUrl;
    if (!url) {
      throw new Error(
        'This source has no spans (no span and parent columns) and its server names no trace endpoint: set trace-src="…{id}…" or load spans.',
      );
    }
    const href = new URL(url.replaceAll('{id}', encodeURIComponent(id)), globalThis.location?.href).href;
    const response = await fetch(href, { ...(this.source?.fetchInit ?? {}) });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = (await response.json()).error ?? message;
      } catch {
        // not JSON
      }
      throw new Error(message);
    }
    return { ...(await response.json()), where: 'the server' };
  }

  #show(id, result) {
    const cols = result.columns ?? [];
    const at = (name) => (name ? cols.indexOf(name) : -1);
    const col = (attr, list) => at(pick(cols, this.getAttribute(attr), list));
    const c = {
      span: col('span-column', TRACE_NAMES.span),
      parent: col('parent-column', TRACE_NAMES.parent),
      name: col('name-column', TRACE_NAMES.name),
      service: col('service-column', TRACE_NAMES.service),
      duration: col('duration-column', TRACE_NAMES.duration),
      time: col('time-column', TRACE_NAMES.time),
      error: at(pick(cols, null, TRACE_NAMES.error)),
      status: at(pick(cols, null, TRACE_NAMES.status)),
    };
    const missing = ['span', 'parent', 'duration', 'time'].filter((k) => c[k] < 0);
    if (missing.length) {
      throw new Error(`The trace's rows have no ${missing.join(', ')} column (columns: ${cols.slice(0, 12).join(', ')}); name it with ${missing[0]}-column`);
    }
    const unit = DURATION_UNITS[this.getAttribute('duration-unit') ?? 'ms'] ?? 1;
    const spans = (result.rows ?? []).map((row) => {
      const fields = {};
      cols.forEach((k, i) => {
        if (row[i] !== null && row[i] !== undefined) fields[k] = row[i];
      });
      const status = c.status >= 0 ? row[c.status] : null;
      const error = c.error >= 0 && row[c.error] !== null && row[c.error] !== '' && row[c.error] !== false ? String(row[c.error]) : null;
      return {
        id: String(row[c.span] ?? ''),
        parent: row[c.parent] === null || row[c.parent] === '' ? null : String(row[c.parent]),
        name: c.name >= 0 ? String(row[c.name] ?? '') : '',
        service: c.service >= 0 ? String(row[c.service] ?? '') : '',
        start: Number(row[c.time]),
        duration: Math.max(0, Number(row[c.duration]) * unit),
        error: error ?? (typeof status === 'number' && status >= 500 ? `status ${status}` : null),
        fields,
      };
    });
    this.#spans = spanTree(spans.filter((s) => Number.isFinite(s.start)));
    if (!this.#spans.length) throw new Error(`No spans of trace ${id} in ${result.where ?? 'the source'}`);
    this.#collapsed.clear();
    this.#selected = null;
    const t0 = Math.min(...this.#spans.map((s) => s.start));
    const t1 = Math.max(...this.#spans.map((s) => s.start + s.duration / 1000));
    this.#window = { t0, ms: Math.max((t1 - t0) * 1000, 1e-3) };
    const errors = this.#spans.filter((s) => s.error).length;
    const services = [...new Set(this.#spans.map((s) => s.service))];
    this.#colours = new Map(services.map((s, i) => [s, this.#palette()[i % this.#palette().length]]));
    this.#ui.status.textContent =
      `Trace ${displayText(id)} · ${formatInt(this.#spans.length)} spans · ${formatValue(this.#window.ms, 'ms')}` +
      ` · ${formatInt(services.length)} services${errors ? ` · ${formatInt(errors)} with errors` : ''}` +
      `${result.truncated ? ' · only the first 10,000 spans' : ''}`;
    this.#ui.services.replaceChildren(
      ...services.map((s) => {
        const dot = el('span', { class: 'swatch-dot', 'aria-hidden': 'true' });
        dot.style.background = this.#colours.get(s);
        return el('span', {}, dot, document.createTextNode(displayText(s || '(no service)')));
      }),
    );
    this.#render();
    emit(this, 'sightline-trace', { traceId: id, spans: this.#spans.length, errors, durationMs: this.#window.ms });
  }

  #window = { t0: 0, ms: 1 };
  #colours = new Map();

  #palette() {
    const lines = readTheme(this).lines;
    return lines.length ? lines : ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];
  }

  #visible() {
    const hidden = new Set();
    const out = [];
    for (const s of this.#spans) {
      if (s.parentNode && (hidden.has(s.parentNode) || this.#collapsed.has(s.parentNode))) {
        hidden.add(s);
        continue;
      }
      out.push(s);
    }
    return out;
  }

  #render() {
    const { t0, ms } = this.#window;
    for (const s of this.#spans) for (const ch of s.children) ch.parentNode = s;
    const axis = el('div', { class: 'axis', 'aria-hidden': 'true' });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el('span', { text: formatValue(ms * f, 'ms') });
      tick.style.left = `${f * 100}%`;
      axis.append(tick);
    }
    const head = el('div', { class: 'wf-head' }, el('div', { class: 'title', text: 'Service · span' }), axis);
    const rows = [];
    for (const s of this.#visible()) {
      const left = ((s.start - t0) * 1000) / ms;
      const width = s.duration / ms;
      const bar = el('span', { class: s.error ? 'bar err' : 'bar' });
      bar.style.left = `${(left * 100).toFixed(3)}%`;
      bar.style.width = `${(Math.max(width, 0) * 100).toFixed(3)}%`;
      bar.style.background = this.#colours.get(s.service) ?? 'var(--sightline-accent)';
      // The duration at the end of the name column: always readable, never over a bar.
      const dur = el('span', { class: 'dur', text: formatValue(s.duration, 'ms') });
      const open = !this.#collapsed.has(s);
      const toggle = el('span', { class: 'toggle', 'aria-hidden': 'true', text: s.children.length ? (open ? '▾' : '▸') : '' });
      if (s.children.length) {
        toggle.addEventListener('click', (e) => {
          e.stopPropagation();
          this.#expand(s, !open);
        });
      }
      const label = el(
        'span',
        { class: 'label' },
        toggle,
        el('span', { class: 'svc', text: displayText(s.service) }),
        el('span', { class: 'nm', text: displayText(s.name || s.id) }),
      );
      label.style.paddingLeft = `${8 + s.depth * 14}px`;
      if (s.error) label.append(el('span', { class: 'badge', text: 'error' }));
      if (s.orphan) label.append(el('span', { class: 'muted', text: '(parent not in trace)' }));
      label.append(dur);
      const row = el(
        'div',
        {
          class: 'span',
          part: 'span',
          role: 'treeitem',
          tabindex: '-1',
          'aria-level': String(s.depth + 1),
          'aria-selected': this.#selected === s ? 'true' : 'false',
          'aria-expanded': s.children.length ? String(open) : undefined,
          'aria-label': `${s.service} ${s.name}, ${formatValue(s.duration, 'ms')}${s.error ? ', error' : ''}`,
          'data-span-id': s.id,
        },
        label,
        el('span', { class: 'track' }, bar),
      );
      row.addEventListener('click', () => this.#choose(s, true));
      rows.push(row);
      if (this.#selected === s) rows.push(this.#detail(s));
    }
    const focusable = rows.find((r) => r.getAttribute('aria-selected') === 'true') ?? rows[0];
    focusable?.setAttribute('tabindex', '0');
    this.#ui.list.replaceChildren(head, ...rows);
    this.#ui.list.hidden = false;
  }

  #detail(s) {
    const fields = el('dl', { class: 'fields' });
    const schema = { role: 'time' };
    const timeCol = pick(Object.keys(s.fields), this.getAttribute('time-column'), TRACE_NAMES.time);
    for (const [k, v] of Object.entries(s.fields)) {
      fields.append(
        el('dt', { text: displayText(k) }),
        el('dd', { text: cellText(v, k === timeCol ? schema : undefined, this.getAttribute('time-zone')) }),
      );
    }
    return el('div', { class: 'span-detail', part: 'span-detail', role: 'group', 'aria-label': `Fields of ${s.name}` }, fields);
  }

  #choose(s, toggleDetail) {
    this.#selected = toggleDetail && this.#selected === s ? null : s;
    this.#render();
    this.#focus(s);
    if (this.#selected) emit(this, 'sightline-span-click', { traceId: this.traceId, spanId: s.id, span: { ...s.fields } });
  }

  /** Shows (or hides) the children of `s`. */
  #expand(s, open) {
    if (open) this.#collapsed.delete(s);
    else this.#collapsed.add(s);
    if (this.#selected && !this.#visible().includes(this.#selected)) this.#selected = null;
    this.#render();
    this.#focus(s);
  }

  #focus(s) {
    const row = [...this.#ui.list.querySelectorAll('.span')].find((r) => r.dataset.spanId === s.id);
    for (const r of this.#ui.list.querySelectorAll('.span')) r.setAttribute('tabindex', r === row ? '0' : '-1');
    row?.focus();
  }

  #key(e) {
    const rows = [...this.#ui.list.querySelectorAll('.span')];
    const i = rows.indexOf(e.target);
    if (i < 0) return;
    const visible = this.#visible();
    const s = visible[i];
    const go = (t) => {
      if (t) this.#focus(t);
    };
    switch (e.key) {
      case 'ArrowDown':
        go(visible[i + 1]);
        break;
      case 'ArrowUp':
        go(visible[i - 1]);
        break;
      case 'Home':
        go(visible[0]);
        break;
      case 'End':
        go(visible[visible.length - 1]);
        break;
      case 'ArrowRight':
        if (s.children.length && this.#collapsed.has(s)) this.#expand(s, true);
        else go(s.children[0]);
        break;
      case 'ArrowLeft':
        if (s.children.length && !this.#collapsed.has(s)) this.#expand(s, false);
        else go(s.parentNode);
        break;
      case 'Enter':
      case ' ':
        this.#choose(s, true);
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}

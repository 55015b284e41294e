// <sightline-breakdown>: a line chart per calculation and a sortable results table.
//
// Data-derived text only goes through textContent, attribute values and canvas fillText.

import { devicePixelRatio, displayText, drawMarkers, drawMessage, drawRendered, el, emit, formatInt, formatTimeRange, formatValue, intAttr, lazySheet, readTheme, renderTimeOptions, resolveTimeZone, timeZoneNote } from '../shared/ui.js';
import { CALCULATION_OPS } from '../engine/spec.js';
import { calcUnit, earlierLabel, groupName } from '../shared/text.js';
import { parseCalcs, parseHavings, parseOrders } from '../shared/spec-text.js';
import { Part, channel, listAttr } from './part.js';
import { linkedSpec } from './source-bound.js';
import { Table, canvasBlob, download, toCSV } from './table.js';

const MAX_CHART_LINES = 10;

const MAX_BARS = 20;

/** A single number in full: counts with thousands separators, durations with their unit. */
function numberText(v, unit) {
  if (v === null || v === undefined) return '–';
  const n = Number(v);
  if (unit) return formatValue(n, unit);
  return Number.isInteger(n) && Math.abs(n) < 1e15 ? formatInt(n) : formatValue(n);
}

const BREAKDOWN_STYLE = `
.barlist { list-style: none; margin: 0 0 8px; padding: 0; display: grid; gap: 2px; }
.barlist button { all: unset; box-sizing: border-box; width: 100%; display: grid; grid-template-columns: minmax(80px, 34%) 1fr 64px; gap: 8px; align-items: center; padding: 2px 4px; border-radius: 4px; cursor: pointer; }
.barlist button:hover { background: var(--sightline-subtle); }
.barlist button:focus-visible { outline: 2px solid var(--sightline-accent); }
.barlist .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; unicode-bidi: isolate; }
.barlist .track { height: 12px; }
.barlist .fill { height: 100%; border-radius: 2px; background: var(--sightline-accent); min-width: 1px; }
.barlist .v { text-align: right; font-variant-numeric: tabular-nums; }
.numbers { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 4px 0 10px; }
.number { display: flex; flex-direction: column; }
.number .big { font-size: 30px; font-weight: 600; line-height: 1.15; font-variant-numeric: tabular-nums; }
.number .what { color: var(--sightline-muted); font-size: 12px; }
`;

const breakdownStyle = lazySheet(BREAKDOWN_STYLE);

/**
 * `<sightline-breakdown calculations="COUNT, P99(duration_ms)" breakdowns="build"
 * orders="P99(duration_ms) desc" havings="COUNT > 10">`: a line chart per calculation
 * (one line per group, the top ten) and a sortable results table; or set `query` to a
 * whole query specification. `charts="bars"` draws the first calculation as a bar per
 * group instead, `charts="number"` each calculation as one big number, `charts="none"`
 * nothing; `table="none"` leaves the table out.
 */
export class SightlineBreakdown extends Part {
  static observedAttributes = ['src', 'source', 'calculations', 'breakdowns', 'orders', 'havings', 'limit', 'time-zone', 'charts', 'table', 'ignore-selection'];

  #query = null;
  #result = null;
  #charts = [];
  #ui;
  #resize;
  #width = 0;

  constructor() {
    super();
    this.root.adoptedStyleSheets = [...this.root.adoptedStyleSheets, breakdownStyle()];
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
    // Which groups the limit keeps: `orders="COUNT desc"`, `havings="COUNT > 10"`.
    const orders = parseOrders(this.getAttribute('orders') ?? '', CALCULATION_OPS);
    if (orders.length) q.orders = orders;
    const havings = parseHavings(this.getAttribute('havings') ?? '');
    if (havings.length) q.havings = havings;
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
    // The source's context, narrowed by a brushed selection (crossfilter).
    const ctx = linkedSpec(this.source, this);
    const spec = { ...q, ...ctx, filters: [...(q.filters ?? []), ...ctx.filters] };
    for (const k of ['start_time', 'end_time', 'time_range', 'filter_combination']) if (q[k] !== undefined) spec[k] = q[k];
    // A followed selection's window narrows a query with times of its own too.
    const sel = this.followsSelection() ? this.source?.selection : null;
    if (sel && (q.start_time !== undefined || q.end_time !== undefined || q.time_range !== undefined)) {
      delete spec.time_range;
      spec.start_time = sel.start_time;
      spec.end_time = sel.end_time;
    }
    // Only line charts need the series.
    if (this.#mode() !== 'lines' && spec.disable_series === undefined) spec.disable_series = true;
    spec.calculations = (q.calculations ?? []).filter((c) => c.op !== 'HEATMAP');
    if (!spec.calculations.length) spec.calculations = [{ op: 'COUNT' }];
    // Day buckets start at local midnight in the element's zone.
    if (spec.time_zone === undefined) spec.time_zone = resolveTimeZone(this.#zone());
    return spec;
  }

  /** What is drawn above the table: `lines` (default), `bars`, `number` or `none`. */
  #mode() {
    const v = this.getAttribute('charts');
    return ['none', 'bars', 'number'].includes(v) ? v : 'lines';
  }

  async refresh() {
    if (!this.ready()) return;
    const spec = this.#fullSpec();
    const tableShown = this.getAttribute('table') !== 'none';
    this.table.wrap.hidden = !tableShown;
    this.#ui.csv.hidden = !tableShown;
    this.#ui.status.textContent = 'Running…';
    const t0 = performance.now();
    try {
      const lines = this.#mode() === 'lines' ? this.#lineOptions() : null;
      const { result: r, charts } = await this.latest.run(() => this.source.client.breakdown(spec, lines, { channel: this.channel }));
      this.#result = r;
      this.#spec = spec;
      this.#rendered = { charts, theme: lines?.theme, dpr: lines?.options.dpr };
      const ms = performance.now() - t0;
      this.#ui.status.classList.remove('error');
      const zone = timeZoneNote(this.#zone());
      this.#ui.status.textContent =
        `${formatInt(r.results.length)} of ${formatInt(r.groups)} groups · ${formatInt(r.matched)} of ${formatInt(r.scanned)} events · ` +
        `${formatTimeRange(r.start_time, r.end_time, this.#zone())} · ${formatValue(ms, 'ms')}${zone ? ` · ${zone}` : ''}` +
        (this.source.selection && this.followsSelection() ? ' · in the brushed selection' : '') +
        (r.sample_rate_column ? ` · weighted by ${displayText(r.sample_rate_column)}: counts, sums, averages and percentiles stand for every event the sample represents` : '');
      this.#ui.status.classList.toggle('weighted', !!r.sample_rate_column);
      this.#fillTable();
      this.#drawCharts(r);
      if (this.#mode() === 'bars') this.#drawBars(r);
      if (this.#mode() === 'number') this.#drawNumbers(r);
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

  onSource(type, detail) {
    super.onSource(type, detail);
    // Markers redraw over the charts already drawn, without a new query.
    if (type === 'markers' && this.#result && this.#mode() === 'lines') this.#drawCharts(this.#result);
  }

  /** The source's markers drawn on each chart: `[[{ time, label, kind, x }]]`. */
  get drawnMarkers() {
    return this.#charts.map((c) => c.markers ?? []);
  }

  /** A brushed selection narrows the breakdown unless `ignore-selection` is set. */
  followsSelection() {
    return !this.hasAttribute('ignore-selection');
  }

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
    // A time comparison: each calculation beside its value over the earlier window.
    const earlier = new Map((r.previous?.results ?? []).map((row) => [this.#groupKey(row, breakdowns), row]));
    const ago = r.previous ? earlierLabel(r.start_time - r.previous.start_time) : '';
    const columns = [
      ...breakdowns.map((b, i) => ({ key: b, label: b, swatch: i === 0 })),
      ...calcCols.flatMap((c) => [
        { key: c, label: c, numeric: true },
        ...(r.previous ? [{ key: `${c} ${ago}`, label: `${c} ${ago}`, numeric: true }] : []),
      ]),
    ];
    const rows = r.results.map((row) => {
      const out = { ...row, __colour: colours.get(this.#groupKey(row, breakdowns)) };
      if (r.previous) {
        const before = earlier.get(this.#groupKey(row, breakdowns));
        for (const c of calcCols) out[`${c} ${ago}`] = before?.[c] ?? null;
      }
      return out;
    });
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

  /** The first calculation as one bar per group (the top twenty); a click filters by the group. */
  #drawBars(r) {
    const breakdowns = this.#spec.breakdowns ?? [];
    const calc = r.columns.find((c) => !breakdowns.includes(c));
    if (!calc) return;
    const unit = calcUnit(calc);
    const rows = r.results.slice(0, MAX_BARS);
    const max = Math.max(0, ...rows.map((row) => Number(row[calc]) || 0));
    const list = el('ul', { class: 'barlist', part: 'bars', 'aria-label': displayText(`${calc} by ${breakdowns.join(', ') || 'all events'}`) });
    for (const row of rows) {
      const name = groupName(row, breakdowns);
      const v = row[calc];
      const text = v === null || v === undefined ? '–' : formatValue(Number(v), unit);
      const fill = el('div', { class: 'fill' });
      fill.style.width = `${max > 0 && Number(v) > 0 ? (100 * Number(v)) / max : 0}%`;
      const b = el(
        'button',
        { type: 'button', part: 'bar', 'aria-label': `${name}: ${text}` },
        el('span', { class: 'name', text: name, title: name }),
        el('span', { class: 'track' }, fill),
        el('span', { class: 'v', text }),
      );
      b.addEventListener('click', () => emit(this, 'sightline-row-click', { row: this.#plain(row), kind: 'result' }));
      list.append(el('li', {}, b));
    }
    this.#ui.charts.replaceChildren(el('h4', { text: displayText(calc) }), list);
  }

  /** Each calculation as one number (the first group's, or all events'), its earlier value beside it. */
  #drawNumbers(r) {
    const breakdowns = this.#spec.breakdowns ?? [];
    const row = r.results[0] ?? {};
    const before = r.previous?.results?.[0];
    const ago = r.previous ? earlierLabel(r.start_time - r.previous.start_time) : '';
    const boxes = r.columns
      .filter((c) => !breakdowns.includes(c))
      .map((c) => {
        const unit = calcUnit(c);
        const v = row[c];
        const box = el(
          'div',
          { class: 'number', part: 'number' },
          el('span', { class: 'big', text: numberText(v, unit) }),
          el('span', { class: 'what', text: displayText(c) }),
        );
        if (before && before[c] !== null && before[c] !== undefined) box.append(el('span', { class: 'what', text: `${numberText(before[c], unit)} ${ago}` }));
        return box;
      });
    this.#ui.charts.replaceChildren(el('div', { class: 'numbers' }, ...boxes));
  }

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
          const sw = el('span', { class: s.dashed ? 'swatch dashed' : 'swatch', 'aria-hidden': 'true' });
          const colour = theme.lines[(s.colour ?? i) % theme.lines.length] ?? '#888';
          // An earlier window's line is dashed: its swatch is a dashed rule in the group's colour.
          if (s.dashed) sw.style.borderTopColor = colour;
          else sw.style.background = colour;
          return el('span', {}, sw, el('span', { text: displayText(s.name) }));
        }),
      );
      if (c.render) {
        drawRendered(chart.canvas, c.render, theme, dpr);
        chart.plot = c.render.plot;
        const buckets = c.series[0]?.values.length ?? 0;
        chart.markers = drawMarkers(chart.canvas, c.render.plot, c.start, c.start + buckets * c.granularity, this.source?.markers, theme, dpr);
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

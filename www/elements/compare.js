// <sightline-compare>: what is different about a selection, dimensions ranked.
//
// Data-derived text only goes through textContent, attribute values and canvas fillText.

import { cellText, displayText, el, option, emit, formatInt, formatTimeRange, formatValue, intAttr, timeZoneProblem } from '../shared/ui.js';
import { Part, channel } from './part.js';
import { contextSpec, selectionSpec } from './source-bound.js';

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
    const facts = el('p', { class: 'facts', part: 'facts', hidden: true });
    const dims = el('div', { class: 'dims', part: 'dimensions', role: 'list', 'aria-label': 'Dimensions, most different first' });
    const measures = el('div', { part: 'measures' });
    this.root.append(el('div', { class: 'row' }, title, baseline, el('span', { class: 'spacer' }), key), status, described, empty, facts, dims, measures);
    this.#ui = { title, baseline, status, described, empty, facts, dims, measures };
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
      spec = { scope: contextSpec(this.source), selection: selectionSpec(sel), top: intAttr(this, 'top', 6, 1, 50) };
    }
    const period = this.baselinePeriod;
    return period ? { ...spec, baseline: { period } } : spec;
  }

  /**
   * A measure as a picture: the selection's histogram over the baseline's, on the same
   * buckets and the same share axis, so the shift is seen before it is read; p50 and p95
   * of each side below.
   */
  #measureFigure(m) {
    const unit = m.column.endsWith('_ms') ? 'ms' : undefined;
    const column = displayText(m.column);
    const top = Math.max(1e-9, ...m.selection.histogram, ...m.baseline.histogram);
    const hist = (side, cls) =>
      el(
        'div',
        { class: `hist ${cls}`, 'aria-hidden': 'true' },
        ...side.histogram.map((share, k) => {
          const bar = el('span', { title: `${cls === 'sel' ? 'selection' : 'baseline'} ${(share * 100).toFixed(1)}% in ${formatValue(m.edges[k], unit)} to ${formatValue(m.edges[k + 1], unit)}` });
          bar.style.height = `${(share / top) * 100}%`;
          return bar;
        }),
      );
    const first = m.edges[0];
    const last = m.edges[m.edges.length - 1];
    const summary =
      `p50 ${formatValue(m.selection.p50, unit)} vs ${formatValue(m.baseline.p50, unit)}, ` +
      `p95 ${formatValue(m.selection.p95, unit)} vs ${formatValue(m.baseline.p95, unit)}`;
    return el(
      'figure',
      {
        class: 'measure',
        part: 'measure',
        role: 'listitem',
        'data-column': m.column,
        'aria-label': `${column}: selection ${summary} (baseline second); Kolmogorov-Smirnov distance ${m.score.toFixed(2)}`,
      },
      el('header', {}, el('h4', { text: column }), el('span', { class: 'score', text: `KS ${m.score.toFixed(2)}`, title: 'Kolmogorov-Smirnov distance between the two histograms' })),
      hist(m.selection, 'sel'),
      hist(m.baseline, 'base'),
      el('div', { class: 'axis muted' }, el('span', { text: formatValue(first, unit) }), el('span', { text: `${m.scale} scale` }), el('span', { text: formatValue(last, unit) })),
      el('div', { class: 'muted', text: summary }),
    );
  }

  async refresh() {
    let spec = this.currentSpec();
    if (!spec) {
      this.#result = null;
      this.#ui.dims.replaceChildren();
      this.#ui.measures.replaceChildren();
      this.#ui.facts.hidden = true;
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
      `${formatInt(r.selection_count)} selected events (${what}) vs ${formatInt(r.baseline_count)} baseline events · ${formatValue(ms, 'ms')}${problem ? ` · ${problem}` : ''}` +
      (r.sample_rate_column ? ` · weighted by ${displayText(r.sample_rate_column)}: counts are of the events the sample stands for` : '');
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
    // What the selection's fixed column determines (a customer's plan): facts, not differences.
    const facts = r.facts ?? [];
    this.#ui.facts.hidden = facts.length === 0;
    this.#ui.facts.replaceChildren(
      el('strong', { text: 'Always, in the selection: ' }),
      ...facts.flatMap((f, i) => [
        ...(i ? [el('span', { text: ' · ' })] : []),
        el('span', {
          text: `${displayText(f.column)} = ${cellText(f.value)}`,
          title: `${(f.baseline_share * 100).toFixed(1)}% of the baseline has it too`,
        }),
      ]),
    );
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
            el('div', { class: 'measures', role: 'list' }, ...measures.map((m) => this.#measureFigure(m))),
          ]
        : []),
    );
  }
}

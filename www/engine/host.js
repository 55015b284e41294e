// The engine host: one `Dataset` and the requests the page sends it. `worker.js` runs it in
// a module Web Worker (the normal case); `inline.js` runs it in the page when the worker
// script cannot be loaded (see client.js).
//
// Protocol: the page posts `{ id, type, ...args }`; the worker answers `{ id, result }`
// or `{ id, error }` (a message string). Requests run strictly in the order they
// arrive. An engine error fails that one request and never the worker.
//
//   reset   { budgetBytes? }            -> { rows }          new, empty dataset
//   push    { bytes: ArrayBuffer }      -> { rows, batches, rowCount, bytesConsumed }
//   finish  {}                          -> { rowCount, bytesConsumed }
//   schema  {}                          -> [{ name, type, role, ... }]
//   render  { spec, options, counts? }  -> { width, height, rgba (transferred), labels, plot,
//                                            heatmap, counts?, low?, rowCount, ms }
//   stats   {}                          -> { rowCount, bytesConsumed, memoryBytes }
//   query   { spec }                    -> Dataset.query(spec) (heatmap counts transferred)
//   compare { spec }                    -> Dataset.compare(spec)
//   events  { spec }                    -> Dataset.events(spec)
//   renderQuery { spec, options }       -> Dataset.renderQuery(spec, options) (rgba, counts transferred)
//   renderLines { chart, options }      -> Dataset.renderLines(chart, options) (rgba transferred)
//   resetStream {}                      -> { rowCount }  drops a partial or failed stream
//   breakdown { spec, lines }           -> { result, charts }: the query, plus one line chart
//                                          per calculation (top `lines.max` groups) drawn
//                                          here, so that the page never handles `series`
//   remote  { baseUrl, source, headers, engine, rows } -> {}  from now on `query`, `compare`,
//                                          `renderQuery`, `breakdown` and `events` run on the
//                                          server (`/api/query`, `/api/compare`, `/api/events`)
//                                          over its source; pixels are still drawn here; the
//                                          dataset keeps what was loaded (a sample, for the
//                                          schema). `reset` ends it.
//
// Results of `query`, `compare`, `renderQuery` and `breakdown` carry `computed: { where,
// rows, ms }`: `browser` (this worker) or the server's engine (`ClickHouse`, `server`),
// the events the answer covers, and the time it took as seen from here.
//
// A request may carry a `channel`: when a newer request of the same channel has arrived
// by the time an older one's turn comes, the older one is answered `{ id, superseded:
// true }` without running (a new query supersedes one in flight).

import { Dataset } from '../../pkg/sightline.js';
import { calcUnit, earlierLabel, groupName } from '../shared/text.js';
import { RemoteDataset } from './remote.js';

/**
 * A host over the initialised engine: `ready` resolves once the wasm module is
 * instantiated, `post(message, transfer)` answers the page. Returns `{ receive(data),
 * close() }`.
 */
export function createHost(ready, post) {
  let dataset = null;
  let budgetBytes;
  /** `{ rd: RemoteDataset, baseUrl, source, headers, engine, rows }` in remote mode. */
  let remote = null;

  function computed(where, rows, t0) {
    return { where, rows, ms: Math.round((performance.now() - t0) * 10) / 10 };
  }

  /** The query, here or on the server, with where it was computed. */
  async function runQuery(spec) {
    const t0 = performance.now();
    const r = remote ? await remote.rd.query(spec) : current().query(spec);
    r.computed = computed(remote ? remote.engine : 'browser', r.scanned, t0);
    return r;
  }

  function current() {
    if (!dataset) dataset = new Dataset(budgetBytes === undefined ? undefined : { budgetBytes });
    return dataset;
  }

  /** What an engine error names (`kind`, `column`, `operator`, `offset`: EngineError), to cross to the page. */
  function errorFields(err) {
    const out = {};
    for (const k of ['kind', 'column', 'operator', 'offset', 'status', 'parameter']) if (err?.[k] !== undefined) out[k] = err[k];
    return Object.keys(out).length ? { fields: out } : {};
  }

  function message(err) {
    if (err instanceof Error) return err.message || String(err);
    if (typeof err === 'string') return err;
    try {
      return JSON.stringify(err);
    } catch {
      return String(err);
    }
  }

  const handlers = {
    reset({ budgetBytes: budget }) {
      if (dataset) {
        try {
          dataset.free();
        } catch {
          // A dataset poisoned by a panic cannot be freed; drop it.
        }
      }
      dataset = null;
      remote = null;
      budgetBytes = budget;
      return { rows: current().rowCount };
    },

    remote({ baseUrl, source, headers, engine, rows }) {
      const rd = new RemoteDataset(source, { baseUrl, fetchInit: headers ? { headers } : {} });
      remote = { rd, baseUrl: (baseUrl ?? '').replace(/\/$/, ''), source, headers, engine: engine || 'server', rows };
      return {};
    },

    push({ bytes }) {
      const ds = current();
      const summary = ds.push(new Uint8Array(bytes));
      return { rows: summary.rows, batches: summary.batches, rowCount: ds.rowCount, bytesConsumed: ds.bytesConsumed };
    },

    resetStream() {
      const ds = current();
      ds.resetStream();
      return { rowCount: ds.rowCount };
    },

    finish() {
      const ds = current();
      ds.finish();
      return { rowCount: ds.rowCount, bytesConsumed: ds.bytesConsumed };
    },

    schema() {
      return current().schema();
    },

    stats() {
      const ds = current();
      return { rowCount: ds.rowCount, bytesConsumed: ds.bytesConsumed, memoryBytes: ds.memoryBytes };
    },

    render({ spec, options, counts }) {
      const ds = current();
      const t0 = performance.now();
      const r = ds.renderHeatmap(spec, options);
      const out = {
        width: r.width,
        height: r.height,
        rgba: r.rgba,
        labels: r.labels,
        plot: r.plot,
        heatmap: r.heatmap,
        rowCount: ds.rowCount,
      };
      const transfer = [r.rgba.buffer];
      if (counts) {
        // The render's own buckets, for hit-testing.
        out.counts = r.heatmap.counts;
        out.low = r.heatmap.low;
        transfer.push(out.counts.buffer, out.low.buffer);
      }
      out.ms = performance.now() - t0;
      return [out, transfer];
    },

    async query({ spec }) {
      const r = await runQuery(spec);
      const transfer = r.heatmaps.flatMap((h) => [h.counts.buffer, h.low.buffer]);
      return [r, transfer];
    },

    async compare({ spec }) {
      const t0 = performance.now();
      const r = remote ? await remote.rd.compare(spec) : current().compare(spec);
      r.computed = computed(remote ? remote.engine : 'browser', r.selection_count + r.baseline_count, t0);
      return r;
    },

    async events({ spec }) {
      if (!remote) return current().events(spec);
      // The newest matching events from the server (at most the table's page), then the
      // same `events` over them here: the server selects, this worker formats.
      const q = new URLSearchParams();
      if (remote.source) q.set('source', remote.source);
      if (spec.filters?.length) q.set('filters', JSON.stringify(spec.filters));
      if (spec.filter_combination) q.set('filter_combination', spec.filter_combination);
      if (spec.start_time !== undefined) q.set('start', String(spec.start_time));
      if (spec.end_time !== undefined) q.set('end', String(spec.end_time));
      if (spec.time_column) q.set('time_column', spec.time_column);
      q.set('limit', String((spec.limit ?? 100) + (spec.offset ?? 0)));
      q.set('order', spec.order === 'oldest' ? 'oldest' : 'newest');
      const res = await fetch(`${remote.baseUrl}/api/events?${q}`, { headers: remote.headers ?? {} });
      if (!res.ok) throw new Error(`/api/events: ${res.status} ${(await res.text()).slice(0, 200)}`);
      const page = new Dataset();
      try {
        page.push(new Uint8Array(await res.arrayBuffer()));
        page.finish();
        const { start_time, end_time, time_range, ...rest } = spec;
        const out = page.events(rest);
        // The count of every matching event, not of the page.
        const count = await remote.rd.query({
          filters: spec.filters ?? [], filter_combination: spec.filter_combination, start_time, end_time, time_range,
          time_column: spec.time_column, disable_series: true,
        });
        out.matched = count.matched;
        return out;
      } finally {
        page.free();
      }
    },

    async renderQuery({ spec, options }) {
      let r;
      if (remote) {
        const q = await runQuery(spec);
        const h = q.heatmaps[0];
        if (!h) throw new Error('the query has no HEATMAP calculation');
        r = current().renderHeatmapData({ ...h, counts: Array.from(h.counts), low: Array.from(h.low) }, options);
        r.matched = q.matched;
        r.computed = q.computed;
        if (q.sample_rate_column) r.sample_rate_column = q.sample_rate_column;
      } else {
        const t0 = performance.now();
        r = current().renderQuery(spec, options);
        r.computed = computed('browser', r.matched, t0);
      }
      return [r, [r.rgba.buffer, r.heatmap.counts.buffer, r.heatmap.low.buffer]];
    },

    renderLines({ chart, options }) {
      const r = current().renderLines(chart, options);
      return [r, [r.rgba.buffer]];
    },
  };

  // Calculations whose empty buckets are zero rather than gaps: those additive across
  // groups and buckets, where no events contribute nothing (COUNT, SUM, and CONCURRENCY, a
  // time-averaged count of spans in progress per bucket). Not RATE_*: a bucket's rate is
  // the change since the previous non-empty bucket, so an empty bucket has no rate (a gap;
  // the next non-empty bucket carries the change), and rates of groups do not add up to the
  // rate of their union when groups skip buckets. Not AVG, MIN, MAX, percentiles or
  // COUNT_DISTINCT (distinct values of groups overlap).
  const ADDITIVE = new Set(['COUNT', 'SUM', 'CONCURRENCY']);

  handlers.breakdown = async ({ spec, lines }) => {
    const ds = current();
    const r = await runQuery(spec);
    const breakdowns = spec.breakdowns ?? [];
    const calcs = r.columns.filter((c) => !breakdowns.includes(c));
    const key = (row) => JSON.stringify(breakdowns.map((b) => row[b] ?? null));
    const top = r.results.slice(0, lines?.max ?? 10);
    const index = new Map(top.map((row, i) => [key(row), i]));
    const buckets = Math.max(1, Math.ceil((r.end_time - r.start_time) / r.granularity));
    const charts = [];
    const transfer = [];
    if (lines) {
      for (const name of calcs) {
        const fill = ADDITIVE.has(name.replace(/\(.*$/, '')) ? 0 : null;
        const series = top.map((row, g) => ({ name: groupName(row, breakdowns), values: new Array(buckets).fill(fill), colour: g }));
        for (const row of r.series) {
          const g = index.get(key(row));
          if (g === undefined) continue;
          const i = Math.round((row.time - r.start_time) / r.granularity);
          if (i >= 0 && i < buckets) series[g].values[i] = row[name] ?? null;
        }
        // A time comparison: each group's line over the earlier window, dashed in the
        // group's colour, bucket i beside bucket i (same granularity, same length).
        if (r.previous) {
          const ago = earlierLabel(r.start_time - r.previous.start_time);
          const earlier = top.map((row, g) => ({ name: `${groupName(row, breakdowns)} ${ago}`, values: new Array(buckets).fill(fill), colour: g, dashed: true }));
          for (const row of r.previous.series ?? []) {
            const g = index.get(key(row));
            if (g === undefined) continue;
            const i = Math.round((row.time - r.previous.start_time) / r.granularity);
            if (i >= 0 && i < buckets) earlier[g].values[i] = row[name] ?? null;
          }
          series.push(...earlier);
        }
        const chart = { start_time: r.start_time, end_time: r.start_time + buckets * r.granularity, granularity: r.granularity, series };
        const unit = calcUnit(name);
        if (unit) chart.unit = unit;
        const out = { name, series, start: r.start_time, granularity: r.granularity, unit };
        try {
          const img = ds.renderLines(chart, lines.options);
          out.render = { width: img.width, height: img.height, rgba: img.rgba, labels: img.labels, plot: img.plot };
          transfer.push(img.rgba.buffer);
        } catch (err) {
          out.error = message(err);
        }
        charts.push(out);
      }
    }
    r.series = [];
    // A time comparison's earlier result: its table rows cross, its series do not.
    if (r.previous) r.previous.series = [];
    return [{ result: r, charts }, transfer];
  };

  const TRANSFERS = new Set(['render', 'query', 'renderQuery', 'renderLines', 'breakdown']);
  const latest = new Map(); // channel -> id of the newest request

  async function handle(data) {
    const { id, type, channel } = data ?? {};
    if (channel !== undefined) {
      // Let messages that arrived while the previous request ran be dispatched first (they
      // are tasks; this queue runs in microtasks), so that a newer request of this channel
      // is known before this one starts.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (channel !== undefined && latest.get(channel) !== id) {
      post({ id, superseded: true });
      return;
    }
    try {
      await ready;
      const handler = Object.hasOwn(handlers, type) ? handlers[type] : null;
      if (!handler) throw new Error(`unknown request type ${JSON.stringify(type)}`);
      const value = await handler(data);
      if (Array.isArray(value) && TRANSFERS.has(type)) {
        post({ id, result: value[0] }, value[1]);
      } else {
        post({ id, result: value });
      }
    } catch (err) {
      post({ id, error: message(err), ...errorFields(err) });
    }
  }

  // One request at a time, in arrival order (the first ones wait for the wasm module).
  let queue = Promise.resolve();
  return {
    receive(data) {
      const channel = data?.channel;
      if (channel !== undefined) latest.set(channel, data.id);
      queue = queue.then(() => handle(data));
    },
    close() {
      try {
        dataset?.free();
      } catch {
        // A dataset poisoned by a panic cannot be freed; drop it.
      }
      dataset = null;
      remote = null;
    },
  };
}

// Sightline engine worker: hosts one `Dataset` and answers requests from the page.
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
//
// A request may carry a `channel`: when a newer request of the same channel has arrived
// by the time an older one's turn comes, the older one is answered `{ id, superseded:
// true }` without running (a new query supersedes one in flight).

import init, { Dataset } from '../pkg/sightline.js';
import { displayText } from './text.js';

const ready = init();
let dataset = null;
let budgetBytes;

function current() {
  if (!dataset) dataset = new Dataset(budgetBytes === undefined ? undefined : { budgetBytes });
  return dataset;
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
    budgetBytes = budget;
    return { rows: current().rowCount };
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

  query({ spec }) {
    const r = current().query(spec);
    const transfer = r.heatmaps.flatMap((h) => [h.counts.buffer, h.low.buffer]);
    return [r, transfer];
  },

  compare({ spec }) {
    return current().compare(spec);
  },

  events({ spec }) {
    return current().events(spec);
  },

  renderQuery({ spec, options }) {
    const r = current().renderQuery(spec, options);
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

function groupName(row, breakdowns) {
  if (!breakdowns.length) return 'all events';
  return breakdowns.map((b) => (row[b] === null || row[b] === undefined ? '∅' : displayText(row[b]))).join(' · ');
}

handlers.breakdown = ({ spec, lines }) => {
  const ds = current();
  const r = ds.query(spec);
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
      const series = top.map((row) => ({ name: groupName(row, breakdowns), values: new Array(buckets).fill(fill) }));
      for (const row of r.series) {
        const g = index.get(key(row));
        if (g === undefined) continue;
        const i = Math.round((row.time - r.start_time) / r.granularity);
        if (i >= 0 && i < buckets) series[g].values[i] = row[name] ?? null;
      }
      const chart = { start_time: r.start_time, end_time: r.start_time + buckets * r.granularity, granularity: r.granularity, series };
      const unit = /_ms\)$/.test(name) && !/^COUNT/.test(name) ? 'ms' : undefined;
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
    self.postMessage({ id, superseded: true });
    return;
  }
  try {
    await ready;
    const handler = Object.hasOwn(handlers, type) ? handlers[type] : null;
    if (!handler) throw new Error(`unknown request type ${JSON.stringify(type)}`);
    const value = handler(data);
    if (Array.isArray(value) && TRANSFERS.has(type)) {
      self.postMessage({ id, result: value[0] }, value[1]);
    } else {
      self.postMessage({ id, result: value });
    }
  } catch (err) {
    self.postMessage({ id, error: message(err) });
  }
}

// One request at a time, in arrival order (the first ones wait for the wasm module).
let queue = Promise.resolve();
self.addEventListener('message', (event) => {
  const channel = event.data?.channel;
  if (channel !== undefined) latest.set(channel, event.data.id);
  queue = queue.then(() => handle(event.data));
});

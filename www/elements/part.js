// `Part`: the base of the panels beside the heatmap (breakdown, comparison, events):
// a shadow root with the panels' stylesheet, source plumbing, redraw scheduling and
// supersession of stale answers; and the helpers that read calculations from attributes.

import { emit, lazySheet } from '../shared/ui.js';
import { SourceBound } from './source-bound.js';

// ---------------------------------------------------------------------------------------
// Styles
// ---------------------------------------------------------------------------------------

const PARTS_STYLE = `
:host {
  --sightline-bg: #ffffff;
  --sightline-fg: #1f2328;
  --sightline-muted: #656d76;
  --sightline-accent: #0969da;
  --sightline-border: #d0d7de;
  --sightline-subtle: #f6f8fa;
  --sightline-selection: #e36209;
  --sightline-baseline: #8c959f;
  --sightline-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --sightline-lines: #4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac;
  display: block;
  box-sizing: border-box;
  color: var(--sightline-fg);
  background: var(--sightline-bg);
  font: 13px/1.45 var(--sightline-font);
}
@media (prefers-color-scheme: dark) {
  :host {
    --sightline-bg: #0d1117;
    --sightline-fg: #e6edf3;
    --sightline-muted: #8d96a0;
    --sightline-accent: #58a6ff;
    --sightline-border: #30363d;
    --sightline-subtle: #161b22;
    --sightline-selection: #f0883e;
    --sightline-baseline: #6e7681;
  }
}
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
* { box-sizing: border-box; }
button, select, input {
  font: inherit;
  color: inherit;
  background: var(--sightline-bg);
  border: 1px solid var(--sightline-border);
  border-radius: 6px;
  padding: 3px 8px;
  min-height: 28px;
}
button { cursor: pointer; background: var(--sightline-subtle); }
button:hover { border-color: var(--sightline-muted); }
button.primary { background: var(--sightline-accent); border-color: var(--sightline-accent); color: #fff; }
button.link { background: none; border: none; color: var(--sightline-accent); padding: 0 2px; min-height: 0; text-align: left; }
button.link:hover { text-decoration: underline; }
button.icon { padding: 0 7px; }
:focus-visible { outline: 2px solid var(--sightline-accent); outline-offset: 1px; }
.muted { color: var(--sightline-muted); }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.spacer { flex: 1 1 auto; }
h3, h4 { margin: 0; font-size: 13px; font-weight: 600; }
.chart { position: relative; height: var(--sightline-chart-height, 220px); }
.chart canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0 8px; font-size: 12px; }
.legend .swatch { display: inline-block; width: 10px; height: 3px; margin-right: 5px; vertical-align: middle; border-radius: 1px; }
.legend .swatch.dashed { height: 0; border-top: 2px dashed; border-radius: 0; width: 14px; }
[part="tooltip"] {
  position: absolute; left: 0; top: 0; z-index: 2; pointer-events: none;
  padding: 6px 9px; border-radius: 6px; border: 1px solid var(--sightline-border);
  background: var(--sightline-bg); box-shadow: 0 4px 14px rgb(0 0 0 / 0.14);
  font-size: 12px; white-space: nowrap; font-variant-numeric: tabular-nums;
}
.guide { position: absolute; top: 0; width: 1px; pointer-events: none; background: var(--sightline-muted); }
.table-wrap { overflow: auto; max-height: var(--sightline-table-height, 360px); border: 1px solid var(--sightline-border); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; text-align: left; border-bottom: 1px solid var(--sightline-border); white-space: nowrap; max-width: 420px; overflow: hidden; text-overflow: ellipsis; unicode-bidi: isolate; }
thead { position: sticky; top: 0; z-index: 1; }
th { background: var(--sightline-subtle); font-weight: 600; }
th button { all: unset; cursor: pointer; }
th button:focus-visible { outline: 2px solid var(--sightline-accent); }
td.num, th.num { text-align: right; }
tbody tr:hover { background: var(--sightline-subtle); }
tbody tr[tabindex] { cursor: pointer; }
tr.open { background: var(--sightline-subtle); }
.detail td { white-space: normal; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 4px 0; }
dl.fields dt { color: var(--sightline-muted); }
dl.fields dd { margin: 0; word-break: break-all; unicode-bidi: isolate; white-space: pre-wrap; }
.swatch-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; }
.dims { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.dim { border: 1px solid var(--sightline-border); border-radius: 8px; padding: 8px 10px; }
.dim header { display: flex; align-items: baseline; gap: 8px; margin-bottom: 6px; }
.dim header .score { margin-left: auto; font-variant-numeric: tabular-nums; color: var(--sightline-muted); font-size: 12px; }
.val { display: grid; grid-template-columns: minmax(0, 1fr) 110px 56px; gap: 2px 8px; align-items: center; padding: 2px 0; }
.val .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; unicode-bidi: isolate; }
.bars { display: flex; flex-direction: column; gap: 2px; }
.bar { height: 5px; border-radius: 2px; min-width: 1px; }
.bar.sel { background: var(--sightline-selection); }
.bar.base { background: var(--sightline-baseline); }
.measures { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px; }
.measure { margin: 0; border: 1px solid var(--sightline-border); border-radius: 8px; padding: 8px 10px; }
.measure header { display: flex; gap: 8px; align-items: baseline; }
.measure header .score { margin-left: auto; }
.hist { display: flex; align-items: flex-end; gap: 1px; height: 34px; }
.hist.base { height: 22px; margin-top: 2px; }
.hist span { flex: 1 1 0; min-height: 0; border-radius: 1px 1px 0 0; }
.hist.sel span { background: var(--sightline-selection); }
.hist.base span { background: var(--sightline-baseline); }
.measure .axis { display: flex; justify-content: space-between; font-size: 11px; }
.diff { text-align: right; font-size: 12px; font-variant-numeric: tabular-nums; }
.diff.up { color: var(--sightline-selection); }
.key { display: inline-flex; align-items: center; gap: 5px; font-size: 12px; }
.key i { display: inline-block; width: 14px; height: 5px; border-radius: 2px; }
.key i.sel { background: var(--sightline-selection); }
.key i.base { background: var(--sightline-baseline); }
.empty { padding: 16px; text-align: center; color: var(--sightline-muted); }
.facts { margin: 4px 0 8px; font-size: 13px; }
.error { color: var(--sightline-error, #cf222e); }
.filters-bar { display: flex; gap: 6px; flex-wrap: wrap; margin-bottom: 8px; }
.chip { display: inline-flex; align-items: center; gap: 4px; border: 1px solid var(--sightline-border); border-radius: 12px; padding: 1px 4px 1px 10px; font-size: 12px; background: var(--sightline-subtle); }
.chip button { min-height: 0; border: none; background: none; padding: 0 4px; }
`;

export const partsStyle = lazySheet(PARTS_STYLE);

export function listAttr(node, name) {
  return (node.getAttribute(name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Runs `fn` for the latest call only: older in-flight results are dropped. */
class Latest {
  #gen = 0;
  async run(fn) {
    const gen = ++this.#gen;
    const value = await fn();
    if (gen !== this.#gen) throw new DOMException('superseded', 'AbortError');
    return value;
  }
  cancel() {
    this.#gen += 1;
  }
}

let channelSeq = 0;
export function channel(kind) {
  channelSeq += 1;
  return `${kind}-${channelSeq}`;
}

/** Base of the parts: shadow root with the parts stylesheet, source plumbing, redraw scheduling. */
export class Part extends SourceBound {
  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.root.adoptedStyleSheets = [partsStyle()];
    this.latest = new Latest();
    this.channel = channel(this.localName);
    this.timer = 0;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === 'src') return this.srcChanged(newValue);
    if (name === 'source') {
      if (this.isConnected) this.connectSource();
      return;
    }
    if (this.connectedOnce) this.schedule();
  }

  connectedCallback() {
    for (const prop of ['fetchInit', 'src', 'source', 'query', 'spec']) {
      if (Object.hasOwn(this, prop)) {
        const value = this[prop];
        delete this[prop];
        this[prop] = value;
      }
    }
    this.connectedOnce = true;
    this.connectSource();
    this.schedule();
  }

  disconnectedCallback() {
    clearTimeout(this.timer);
    this.latest.cancel();
    this.disconnectSource();
  }

  onSource(type, detail) {
    if (type === 'progress' && this.ownsSource) emit(this, 'sightline-progress', detail);
    if (type === 'error' && this.ownsSource) emit(this, 'sightline-error', detail);
    if (type === 'ready' && this.ownsSource) emit(this, 'sightline-ready', detail);
    if (['ready', 'context', 'bind'].includes(type)) this.schedule();
    // Crossfilter: a linked part follows the brushed selection.
    if (type === 'select' && this.followsSelection()) this.schedule();
    if (type === 'data') this.schedule(500);
  }

  schedule(delay = 0) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  /** Whether a brushed selection narrows this part (breakdown, events); override. */
  followsSelection() {
    return false;
  }

  /** Recomputes; override. */
  async refresh() {}

  ready() {
    const s = this.source;
    return this.isConnected && s && s.running && s.rows > 0;
  }
}

// Sightline: one ES module that registers the elements and exports the JS API.
//
//   <script type="module" src="/www/sightline.js"></script>
//   <sightline-explorer src="/api/demo?rows=1000000"></sightline-explorer>
//
// The engine (Rust compiled to WebAssembly) runs in a module Web Worker (engine/worker.js),
// one dataset per source; the worker and the wasm are located relative to their modules
// with `new URL('…', import.meta.url)` literals, which Vite, webpack and Parcel follow.
// After a bundler that does not (Rollup, esbuild) the engine runs in the page from an
// inlined copy of the wasm (engine/inline.js), so no bundler configuration is needed.
//
// Layout: elements/ (one file per element, beside their bases source-bound.js and
// part.js), engine/ (client.js: the page's side; worker.js + host.js: the engine's side;
// remote.js: the server's engine over HTTP), shared/ (formatting, styles, safe text).
//
// Works under a strict Content-Security-Policy (`script-src 'self' 'wasm-unsafe-eval'`):
// no inline scripts or styles (constructable stylesheets), and data-derived text only
// ever goes through textContent, attributes or canvas fillText.

import { SightlineClient, SightlineSource } from './engine/client.js';
import { BOARD_KINDS, BoardError, SightlineBoard, parseBoard } from './elements/board.js';
import { SightlineBreakdown } from './elements/breakdown.js';
import { SightlineCompare } from './elements/compare.js';
import { SightlineEvents } from './elements/events.js';
import { SightlineExplorer } from './elements/explorer.js';
import { SightlineHeatmap } from './elements/heatmap.js';
import { SightlineSourceElement } from './elements/source.js';
import { SightlineTrace, TRACE_NAMES, spanTree } from './elements/trace.js';
import { SourceBound as SightlineSourceBound } from './elements/source-bound.js';
import { csvCell, toCSV } from './elements/table.js';

const ELEMENTS = [
  ['sightline-source', SightlineSourceElement],
  ['sightline-heatmap', SightlineHeatmap],
  ['sightline-breakdown', SightlineBreakdown],
  ['sightline-compare', SightlineCompare],
  ['sightline-events', SightlineEvents],
  ['sightline-trace', SightlineTrace],
  ['sightline-explorer', SightlineExplorer],
  ['sightline-board', SightlineBoard],
];
for (const [name, cls] of ELEMENTS) {
  if (!customElements.get(name)) customElements.define(name, cls);
}

export { RemoteDataset, RemoteError } from './engine/remote.js';
export {
  SightlineClient,
  SightlineSource,
  SightlineHeatmap,
  SightlineBreakdown,
  SightlineCompare,
  SightlineEvents,
  SightlineExplorer,
  SightlineSourceElement,
  SightlineSourceBound,
  SightlineTrace,
  SightlineBoard,
  BoardError,
  BOARD_KINDS,
  parseBoard,
  spanTree,
  TRACE_NAMES,
  csvCell,
  toCSV,
};
export default SightlineHeatmap;

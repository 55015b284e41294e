// Sightline: one ES module that registers the elements and exports the JS API.
//
//   <script type="module" src="/www/sightline.js"></script>
//   <sightline-explorer src="/api/demo?rows=1000000"></sightline-explorer>
//
// The engine (Rust compiled to WebAssembly) runs in a module Web Worker (worker.js), one
// dataset per source; the worker and the wasm are located relative to this module
// (`new URL(..., import.meta.url)`), so no bundler configuration is needed.
//
// Works under a strict Content-Security-Policy (`script-src 'self' 'wasm-unsafe-eval'`):
// no inline scripts or styles (constructable stylesheets), and data-derived text only
// ever goes through textContent, attributes or canvas fillText.

import { SightlineClient, SightlineSource } from './source.js';
import { SightlineHeatmap, SourceBound as SightlineSourceBound } from './heatmap.js';
import { SightlineBreakdown, SightlineCompare, SightlineEvents, SightlineExplorer, SightlineSourceElement, csvCell, toCSV } from './parts.js';

const ELEMENTS = [
  ['sightline-source', SightlineSourceElement],
  ['sightline-heatmap', SightlineHeatmap],
  ['sightline-breakdown', SightlineBreakdown],
  ['sightline-compare', SightlineCompare],
  ['sightline-events', SightlineEvents],
  ['sightline-explorer', SightlineExplorer],
];
for (const [name, cls] of ELEMENTS) {
  if (!customElements.get(name)) customElements.define(name, cls);
}

export { RemoteDataset, RemoteError } from './remote.js';
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
  csvCell,
  toCSV,
};
export default SightlineHeatmap;

// `sightline/engine` under Node: the wasm module read from the package and instantiated
// synchronously at import, so `new Dataset()` works at once. `init()` is there for code
// shared with the browser entry (pkg/sightline.js), where it must be awaited first.

import { readFileSync } from 'node:fs';
import { initSync } from '../../pkg/sightline.js';

initSync({ module: readFileSync(new URL('../../pkg/sightline_bg.wasm', import.meta.url)) });

export { Dataset, initSync } from '../../pkg/sightline.js';

/** Already done at import; resolves at once. */
export default async function init() {}

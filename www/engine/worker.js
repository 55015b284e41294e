// The engine's module Web Worker: instantiates the wasm module and hands every message
// to the host (host.js, where the protocol is written down). The page creates it with
// `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })` (client.js),
// a literal that Vite, webpack and Parcel follow; the wasm is found by the glue's own
// `new URL('sightline_bg.wasm', import.meta.url)`.

import init from '../../pkg/sightline.js';
import { createHost } from './host.js';

const host = createHost(init(), (message, transfer) => self.postMessage(message, transfer ?? []));
self.addEventListener('message', (event) => host.receive(event.data));
// Tells the page that the script loaded: until then it keeps its requests, and sends them
// to the in-page host instead if the script cannot be loaded.
self.postMessage({ started: true });

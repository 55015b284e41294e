// <sightline-source>: an invisible data source that elements share by id.

import { SightlineSource } from '../engine/client.js';
import { emit } from '../shared/ui.js';
import { loadMarkers, openOptions } from './source-bound.js';

/** `<sightline-source id="prod" src="/api/events">`: a shared, invisible data source. */
export class SightlineSourceElement extends HTMLElement {
  static observedAttributes = ['src', 'markers'];
  #source = null;

  get source() {
    if (!this.#source) {
      const budget = Number(this.getAttribute('budget-bytes'));
      this.#source = new SightlineSource(budget > 0 ? { budgetBytes: budget } : {});
      for (const type of ['progress', 'ready', 'error']) {
        this.#source.addEventListener(type, (e) => emit(this, `sightline-${type}`, e.detail));
      }
    }
    return this.#source;
  }

  get src() {
    return this.getAttribute('src') ?? '';
  }
  set src(v) {
    this.setAttribute('src', String(v));
  }

  load(input, options) {
    return this.source.load(input, options);
  }
  /** Adds the batches of another stream (not `append`, which is the DOM's). */
  appendStream(input, options) {
    return this.source.append(input, options);
  }

  connectedCallback() {
    this.hidden = true;
    if (this.src && this.source.state === 'idle') this.source.open(this.src, openOptions(this)).catch(() => {});
    if (this.getAttribute('markers')) loadMarkers(this.source, this.getAttribute('markers'));
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'src' && newValue && oldValue !== newValue && this.isConnected) this.source.open(newValue, openOptions(this)).catch(() => {});
    if (name === 'markers' && oldValue !== newValue && this.isConnected) loadMarkers(this.source, newValue);
  }

  disconnectedCallback() {
    queueMicrotask(() => {
      if (this.isConnected || !this.#source) return;
      this.#source.close();
      this.#source = null;
    });
  }
}

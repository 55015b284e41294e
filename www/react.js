// `sightline/react`: React components over the elements, for React 18 and 19.
//
//   import { Explorer, Heatmap } from 'sightline/react';
//   <Heatmap src="/api/demo" column="duration_ms" onSelect={(e) => show(e.detail.selection)} />
//
// Each component renders its element with the attributes written out (kebab-case, as the
// element reads them) before it is inserted, sets the properties that take objects after
// (React 18 would write them as "[object Object]" attributes; React 19 sets properties,
// but only for names the element has when React looks), and listens to the element's
// `sightline-*` events itself: React 18 does not listen to custom events at all, React 19
// only under the event's own name. The ref is the element (`HTMLElementTagNameMap`).
//
// No JSX here, so that the module needs no build step of its own.

import { createElement, forwardRef, useEffect, useImperativeHandle, useLayoutEffect, useRef } from 'react';
import './sightline.js';

/** `onRowClick` -> `sightline-row-click`. */
const EVENTS = {
  onProgress: 'sightline-progress',
  onReady: 'sightline-ready',
  onError: 'sightline-error',
  onRender: 'sightline-render',
  onSelect: 'sightline-select',
  onResult: 'sightline-result',
  onQueryChange: 'sightline-query-change',
  onRowClick: 'sightline-row-click',
  onBaselineChange: 'sightline-baseline-change',
  onFilter: 'sightline-filter',
  onGroupBy: 'sightline-group-by',
  onTraceOpen: 'sightline-trace-open',
  onTrace: 'sightline-trace',
  onSpanClick: 'sightline-span-click',
  onBoardChange: 'sightline-board-change',
  onSaveToBoard: 'sightline-save-to-board',
};

const COMMON_ATTRIBUTES = ['src', 'mode', 'localRows', 'timeZone'];

/**
 * What each component passes on: `attributes` (camelCase prop -> kebab-case attribute;
 * `true` writes an empty attribute, `false`/null/undefined none), `properties` (set on the
 * element), `events` (the props of EVENTS the element fires).
 */
const ELEMENTS = {
  Explorer: {
    tag: 'sightline-explorer',
    attributes: [...COMMON_ATTRIBUTES, 'valueColumn', 'timeColumn', 'customerColumn', 'customer', 'syncUrl', 'markers', 'board'],
    properties: ['query', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onQueryChange', 'onRowClick', 'onSelect', 'onTraceOpen', 'onSaveToBoard'],
  },
  Heatmap: {
    tag: 'sightline-heatmap',
    attributes: [...COMMON_ATTRIBUTES, 'column', 'timeColumn', 'timeBuckets', 'valueBuckets', 'scale', 'unit', 'label'],
    properties: ['filters', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onRender', 'onSelect'],
  },
  Breakdown: {
    tag: 'sightline-breakdown',
    attributes: [...COMMON_ATTRIBUTES, 'calculations', 'breakdowns', 'orders', 'havings', 'limit', 'charts'],
    properties: ['query', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onResult', 'onRowClick'],
  },
  Compare: {
    tag: 'sightline-compare',
    attributes: [...COMMON_ATTRIBUTES, 'top', 'baselinePeriod', 'noFilter'],
    properties: ['spec', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onResult', 'onFilter', 'onGroupBy', 'onBaselineChange'],
  },
  Events: {
    tag: 'sightline-events',
    attributes: [...COMMON_ATTRIBUTES, 'limit', 'columns', 'traceColumn', 'traceTarget'],
    properties: ['filters', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onRowClick', 'onTraceOpen'],
  },
  Trace: {
    tag: 'sightline-trace',
    attributes: [
      ...COMMON_ATTRIBUTES,
      'traceId', 'traceSrc', 'traceColumn', 'spanColumn', 'parentColumn', 'nameColumn',
      'serviceColumn', 'durationColumn', 'durationUnit', 'timeColumn',
    ],
    properties: ['fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onTrace', 'onSpanClick'],
  },
  Board: {
    tag: 'sightline-board',
    attributes: [...COMMON_ATTRIBUTES, 'loading', 'syncUrl', 'markers'],
    properties: ['board', 'fetchInit'],
    events: ['onProgress', 'onReady', 'onError', 'onBoardChange'],
  },
  Source: {
    tag: 'sightline-source',
    attributes: ['src', 'mode', 'localRows', 'budgetBytes'],
    properties: [],
    events: ['onProgress', 'onReady', 'onError'],
  },
};

function kebab(name) {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function component(name, { tag, attributes, properties, events }) {
  const attributeSet = new Set(attributes);
  const propertySet = new Set(properties);
  const eventSet = new Set(events);
  const Component = forwardRef(function SightlineComponent(props, ref) {
    const element = useRef(null);
    useImperativeHandle(ref, () => element.current, []);

    // Listeners are added once; each event reads the newest handler from this ref.
    const handlers = useRef(props);
    handlers.current = props;
    useEffect(() => {
      const node = element.current;
      const listeners = events.map((prop) => [EVENTS[prop], (event) => handlers.current[prop]?.(event)]);
      for (const [type, fn] of listeners) node.addEventListener(type, fn);
      return () => {
        for (const [type, fn] of listeners) node.removeEventListener(type, fn);
      };
    }, []);

    // Properties: set when they change (by identity, as React compares props).
    const set = properties.map((p) => props[p]);
    useLayoutEffect(() => {
      const node = element.current;
      properties.forEach((p, i) => {
        if (set[i] !== undefined && node[p] !== set[i]) node[p] = set[i];
      });
    }, set);

    const out = { ref: element };
    for (const [key, value] of Object.entries(props)) {
      if (propertySet.has(key) || eventSet.has(key) || key === 'children') continue;
      if (key === 'source') continue; // below
      if (attributeSet.has(key)) {
        if (value === true) out[kebab(key)] = '';
        else if (value !== false && value !== null && value !== undefined) out[kebab(key)] = String(value);
        continue;
      }
      out[key] = value; // id, className, style, slot, hidden, aria-*, data-*, DOM events
    }
    // `source` is the id of a <sightline-source> (the attribute) or a SightlineSource (the
    // property). Set here: React 19 would assign an id string to the property.
    const source = props.source;
    useLayoutEffect(() => {
      const node = element.current;
      if (typeof source === 'string') {
        if (node.getAttribute('source') !== source) node.setAttribute('source', source);
      } else if (source && typeof source === 'object') {
        if (node.source !== source) node.source = source;
      } else if (node.hasAttribute('source')) {
        node.removeAttribute('source');
      }
    }, [source]);
    return createElement(tag, out, props.children);
  });
  Component.displayName = name;
  return Component;
}

export const Explorer = component('Explorer', ELEMENTS.Explorer);
export const Heatmap = component('Heatmap', ELEMENTS.Heatmap);
export const Breakdown = component('Breakdown', ELEMENTS.Breakdown);
export const Compare = component('Compare', ELEMENTS.Compare);
export const Events = component('Events', ELEMENTS.Events);
export const Trace = component('Trace', ELEMENTS.Trace);
export const Board = component('Board', ELEMENTS.Board);
export const Source = component('Source', ELEMENTS.Source);

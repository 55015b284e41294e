// A React app as a user writes one: the components from `sightline/react`, typed props,
// a ref to the element, an event handler, StrictMode (effects run twice in development).
import { StrictMode, useRef, useState, type RefObject } from 'react';
import { createRoot } from 'react-dom/client';
import { Heatmap } from 'sightline/react';
import type { Filter, SightlineHeatmap } from 'sightline';

declare global {
  interface Window {
    __app: { ref: RefObject<SightlineHeatmap | null> };
  }
}

const CHECKOUT: Filter[] = [{ column: 'endpoint', op: '=', value: '/checkout' }];

function App() {
  const [scale, setScale] = useState<'log' | 'linear'>('log');
  const [filters, setFilters] = useState<Filter[]>([]);
  const [shown, setShown] = useState(true);
  const [renders, setRenders] = useState(0);
  const ref = useRef<SightlineHeatmap | null>(null);
  window.__app = { ref };
  return (
    <>
      <button id="toggle" onClick={() => setShown((s) => !s)}>Toggle</button>
      <button id="linear" onClick={() => setScale('linear')}>Linear</button>
      <button id="checkout" onClick={() => setFilters(CHECKOUT)}>Checkout only</button>
      <output id="react-renders">{renders}</output>
      {shown && (
        <Heatmap
          ref={ref}
          id="chart"
          src="/data.arrow"
          column="http.server.duration"
          scale={scale}
          filters={filters}
          label="Latency"
          onRender={(e) => {
            if (e.detail.matched > 0) setRenders((n) => n + 1);
          }}
        />
      )}
      {/* The raw tag is typed too (JSX.IntrinsicElements). */}
      <sightline-source id="unused" hidden />
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

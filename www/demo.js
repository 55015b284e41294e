// Demo page wiring: the column and scale pickers drive the heatmap's attributes.
import './sightline.js';

const heatmap = document.getElementById('heatmap');
const columnSelect = document.getElementById('column');
const scaleSelect = document.getElementById('scale');
const form = document.getElementById('controls');

form.addEventListener('submit', (event) => event.preventDefault());

scaleSelect.value = heatmap.scale;
scaleSelect.addEventListener('change', () => {
  heatmap.scale = scaleSelect.value;
});

const heading = document.getElementById('chart-title');
const TITLES = {
  duration_ms: 'Request latency',
  db_duration_ms: 'Database time per request',
  db_calls: 'Database calls per request',
  response_bytes: 'Response size',
  status_code: 'Status codes',
};

columnSelect.addEventListener('change', () => {
  heatmap.column = columnSelect.value;
  heading.textContent = `${TITLES[columnSelect.value] ?? columnSelect.value}, last 24 hours`;
});

async function fillColumns() {
  let fields;
  try {
    fields = await heatmap.schema();
  } catch {
    return; // the element reports its own errors
  }
  const numeric = fields.filter((f) => f.role === 'number').map((f) => f.name);
  if (!numeric.length) return;
  const current = heatmap.column;
  columnSelect.replaceChildren(
    ...numeric.map((name) => {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      option.selected = name === current;
      return option;
    }),
  );
  columnSelect.disabled = false;
}

heatmap.addEventListener('sightline-ready', fillColumns, { once: true });

// Demo page wiring: the customer lens form drives the explorer's `customer` attribute,
// and the busiest customers are offered as suggestions once the data has loaded.
import './sightline.js';
import { displayText } from './shared/text.js';

const explorer = document.getElementById('explorer');
const week = document.getElementById('week');

// The week: a calculated field, weighted figures (the stream carries SampleRate) and the
// last day beside the same day a week earlier.
week.query = {
  calculated_fields: [{ name: 'is_fail', expression: 'IF(GTE($status_code, 500), 1, 0)' }],
  calculations: [
    { op: 'HEATMAP', column: 'duration_ms' },
    { op: 'COUNT' },
    { op: 'AVG', column: 'is_fail' },
    { op: 'P99', column: 'duration_ms' },
  ],
  breakdowns: ['region'],
  orders: [{ op: 'AVG', column: 'is_fail', order: 'descending' }],
  time_range: 86400,
  granularity: 1800,
  compare_time_offset_seconds: 604800,
};
// Loaded after the first explorer: it has the network and the cores first.
explorer.addEventListener(
  'sightline-ready',
  () =>
    requestIdleCallback(
      () => {
        week.src = week.dataset.src;
        week.setAttribute('markers', '/api/markers?days=8');
      },
      { timeout: 2000 },
    ),
  { once: true },
);
const form = document.getElementById('lens-form');
const input = document.getElementById('customer');
const list = document.getElementById('customers');

form.addEventListener('submit', (event) => {
  event.preventDefault();
  explorer.customer = input.value.trim();
});

explorer.addEventListener('sightline-query-change', (event) => {
  if (event.detail.customer === null) input.value = '';
});

explorer.addEventListener(
  'sightline-ready',
  async () => {
    input.value = explorer.customer;
    try {
      const r = await explorer.source.client.query({ breakdowns: ['customer_id'], limit: 20, disable_series: true });
      list.replaceChildren(
        // The browser shows a suggestion's value as is: offer only ids without invisible
        // or direction-changing characters (the lens shows any id safely once typed).
        ...r.results.filter((row) => displayText(row.customer_id) === String(row.customer_id)).map((row) => {
          const option = document.createElement('option');
          option.value = row.customer_id;
          return option;
        }),
      );
    } catch {
      // suggestions are optional
    }
  },
  { once: true },
);

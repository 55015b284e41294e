// Chips: the filters and the brushed selection that narrow a source's views, written as
// text, each with a button that removes it. Shared by the explorer and the board.

import { displayText, el, formatTimeRange, formatValue } from './ui.js';

/** A × button labelled for screen readers. */
export function removeButton(label, onClick) {
  const b = el('button', { type: 'button', class: 'icon', text: '×', 'aria-label': displayText(label) });
  b.addEventListener('click', onClick);
  return b;
}

/** A brushed selection as text: `16:00 – 16:30 UTC, duration_ms 1.1s to 20s`. */
export function selectionText(sel, zone) {
  const parts = [];
  if (sel.start_time !== undefined && sel.end_time !== undefined) parts.push(formatTimeRange(sel.start_time, sel.end_time, zone));
  if (sel.column && (sel.min !== undefined || sel.max !== undefined)) {
    const unit = /_ms$/.test(sel.column) ? 'ms' : undefined;
    const lo = sel.min !== undefined ? formatValue(sel.min, unit) : null;
    const hi = sel.max !== undefined ? formatValue(sel.max, unit) : null;
    parts.push(lo && hi ? `${sel.column} ${lo} to ${hi}` : lo ? `${sel.column} ≥ ${lo}` : `${sel.column} < ${hi}`);
  }
  return parts.join(', ');
}

/** A filter's value as text (a list joined by commas). */
export function valueText(v) {
  return Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v);
}

/** A filter as text: `endpoint = /api/v2/search`. */
export function filterText(f) {
  return `${f.column} ${f.op}${f.value === undefined ? '' : ` ${valueText(f.value)}`}`;
}

/** The chip of a brushed selection (part `selection-chip`); its × runs `onClear`. */
export function selectionChip(sel, zone, onClear) {
  return el(
    'span',
    { class: 'chip', part: 'selection-chip' },
    el('span', { text: displayText(`Selection: ${selectionText(sel, zone)}`) }),
    removeButton('Clear the selection', onClear),
  );
}

/** The chip of one filter (part `filter-chip`); its × runs `onRemove`. */
export function filterChip(f, onRemove) {
  return el(
    'span',
    { class: 'chip', part: 'filter-chip' },
    el('span', { text: displayText(filterText(f)) }),
    removeButton(`Remove filter ${f.column} ${f.op}`, onRemove),
  );
}

// The sortable results table the panels share, and CSV/PNG export.
//
// Data-derived text only goes through textContent and attribute values.

import { cellText, displayText, el } from '../shared/ui.js';

/** Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP). */
export function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCSV(columns, rows) {
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) lines.push(r.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves a Blob as a file through a temporary link (no network request). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function canvasBlob(canvas) {
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the chart could not be encoded as PNG'))), 'image/png'),
  );
}

/**
 * A sortable table: `columns` `[{ key, label, numeric?, format?, action?, actionLabel? }]`
 * (`action(row)`: the cell is a button that runs it), rows of objects.
 */
export class Table {
  constructor(caption, onRow) {
    this.table = el('table', { part: 'table' });
    this.caption = el('caption', { class: 'muted', hidden: true, text: caption });
    this.head = el('thead');
    this.body = el('tbody');
    this.table.append(this.caption, this.head, this.body);
    this.wrap = el('div', { class: 'table-wrap' }, this.table);
    this.sort = null; // { key, desc }
    this.onRow = onRow;
    this.columns = [];
    this.rows = [];
    this.renderGen = 0;
  }

  set(columns, rows) {
    this.columns = columns;
    this.rows = rows;
    if (this.sort && !columns.some((c) => c.key === this.sort.key)) this.sort = null;
    this.render();
  }

  sorted() {
    if (!this.sort) return this.rows;
    const { key, desc } = this.sort;
    const cmp = (a, b) => {
      const x = a[key];
      const y = b[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -r : r;
    };
    return [...this.rows].sort(cmp);
  }

  render() {
    const tr = el('tr');
    for (const c of this.columns) {
      const active = this.sort?.key === c.key;
      const sortText = active ? (this.sort.desc ? 'descending' : 'ascending') : 'none';
      const label = displayText(c.label);
      const b = el('button', { type: 'button', text: `${label}${active ? (this.sort.desc ? ' ▼' : ' ▲') : ''}`, title: `Sort by ${label}` });
      b.addEventListener('click', () => {
        this.sort = { key: c.key, desc: this.sort?.key === c.key ? !this.sort.desc : Boolean(c.numeric) };
        this.render();
      });
      tr.append(el('th', { scope: 'col', class: c.numeric ? 'num' : '', 'aria-sort': sortText }, b));
    }
    this.head.replaceChildren(tr);
    const rows = this.sorted();
    const make = (r) => {
        const row = el('tr', this.onRow ? { tabindex: '0' } : {});
        for (const c of this.columns) {
          const text = c.format ? c.format(r[c.key], r) : cellText(r[c.key]);
          const cell = el('td', { class: c.numeric ? 'num' : '', text, title: text.length > 40 ? text : undefined });
          if (c.action && r[c.key] !== null && r[c.key] !== undefined) {
            // A link-like button in the cell (its own action, not the row's).
            const b = el('button', { type: 'button', class: 'link', text, title: c.actionLabel ? c.actionLabel(r) : undefined });
            b.addEventListener('click', (e) => {
              e.stopPropagation();
              c.action(r);
            });
            cell.replaceChildren(b);
          }
          if (c.swatch && r.__colour) cell.prepend(el('span', { class: 'swatch-dot', 'aria-hidden': 'true' }));
          if (c.swatch && r.__colour) cell.firstChild.style.background = r.__colour;
          row.append(cell);
        }
        if (this.onRow) {
          row.addEventListener('click', () => this.onRow(r, row));
          row.addEventListener('keydown', (e) => {
            if (e.target !== row) return; // a button inside the row acts for itself
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              this.onRow(r, row);
            }
          });
        }
        return row;
    };
    // The first rows now, the rest in later tasks: a long table never blocks the page
    // (layout of a few hundred cells per task).
    const gen = ++this.renderGen;
    this.body.replaceChildren(...rows.slice(0, FIRST_ROWS).map(make));
    for (let at = FIRST_ROWS; at < rows.length; at += MORE_ROWS) {
      setTimeout(() => {
        if (gen === this.renderGen) this.body.append(...rows.slice(at, at + MORE_ROWS).map(make));
      }, 0);
    }
  }
}

const FIRST_ROWS = 40;
const MORE_ROWS = 30;

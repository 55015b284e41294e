// Text from the data, made safe to show: invisible and direction-changing characters
// become visible markers, so that "cust_\u202Eexe.txt" cannot pose as another value and
// a zero-width space cannot make two different values look the same. Shared by the
// page and the worker.

// Bidi embeddings, overrides and isolates; zero-width space, LRM/RLM, word joiner and
// invisible operators; BOM; C0 and C1 controls except tab and newline. Zero-width
// (non-)joiners stay: emoji sequences and several scripts need them.
const INVISIBLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/** `value` with each invisible or direction-changing character shown as ⟨U+XXXX⟩. */
export function displayText(value) {
  return String(value).replace(INVISIBLE, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

// Text from the data, made safe to show: invisible and direction-changing characters
// become visible markers, so that "cust_\u202Eexe.txt" cannot pose as another value and
// a zero-width space cannot make two different values look the same. Shared by the
// page and the worker.
//
// Marked: every character whose Unicode general category is Cc (controls, tab and
// newline included), Cf (format: bidi embeddings, overrides and isolates, zero-width
// space and (non-)joiners, LRM/RLM, ALM U+061C, soft hyphen, U+180E, BOM, interlinear
// annotations U+FFF9-FFFB, the tag block U+E0000-E007F, musical and hieroglyph format
// controls, ...), Zl and Zp (line and paragraph separators); code points that are not
// assigned yet but that renderers must draw as nothing (default ignorable: U+2065,
// U+FFF0-FFF8, U+E0000-E00FF and U+E01F0-E0FFF, so the whole tag block; the variation
// selectors U+E0100-E01EF between them are marks and stay); and lone surrogates (Cs),
// which a JS string can hold. Under the `u` flag a surrogate pair is one code point, so
// `\uD800-\uDFFF` matches unpaired halves only, and an astral character is shown with its
// full code point (⟨U+E0041⟩), never as two halves.
//
// One exception: U+200D ZERO WIDTH JOINER directly between two Extended_Pictographic
// characters stays, so that emoji ZWJ sequences (👨‍👩‍👧) keep their look. Anywhere else,
// including sequences with a modifier or variation selector before the joiner, it is
// marked. The categories come from the JS engine's Unicode tables (property escapes).

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u2065\uFFF0-\uFFF8\u{E0000}-\u{E00FF}\u{E01F0}-\u{E0FFF}\uD800-\uDFFF]/gu;
const PICTOGRAPHIC_END = /\p{Extended_Pictographic}$/u;
const PICTOGRAPHIC_START = /^\p{Extended_Pictographic}/u;
const ZWJ = 0x200d;

/** The marker shown for code point `cp`: ⟨U+XXXX⟩ (4 to 6 hex digits). */
export function marker(cp) {
  return `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** `value` with each invisible or direction-changing character shown as ⟨U+XXXX⟩. */
export function displayText(value) {
  const s = String(value);
  return s.replace(HIDDEN, (c, at) => {
    const cp = c.codePointAt(0);
    // The code point before `at` is at most two code units long, and so is the one
    // after; a slice that cuts a pair leaves a lone half at its far end, which the
    // anchored test ignores.
    if (cp === ZWJ && PICTOGRAPHIC_END.test(s.slice(Math.max(0, at - 2), at)) && PICTOGRAPHIC_START.test(s.slice(at + 1, at + 3))) {
      return c;
    }
    return marker(cp);
  });
}

/** `(1 week ago)` for a time comparison's offset in seconds. */
export function earlierLabel(seconds) {
  for (const [unit, name] of [[604800, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']]) {
    if (seconds >= unit && seconds % unit === 0) {
      const n = seconds / unit;
      return `(${n} ${name}${n === 1 ? '' : 's'} ago)`;
    }
  }
  return `(${seconds} s ago)`;
}

/** A result group's name as legends and bars show it: its breakdown values joined, `∅` for null. */
export function groupName(row, breakdowns) {
  if (!breakdowns.length) return 'all events';
  return breakdowns.map((b) => (row[b] === null || row[b] === undefined ? '∅' : displayText(row[b]))).join(' · ');
}

/**
 * The unit of a calculation's results by its name, as the charts label them: `ms` for a
 * value of a `*_ms` column (`P99(duration_ms)`), none for counts.
 */
export function calcUnit(name) {
  return /_ms\)$/.test(name) && !/^COUNT/.test(name) ? 'ms' : undefined;
}

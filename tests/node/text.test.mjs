// www/shared/text.js displayText over every code point, against an oracle independent of the
// implementation: Python's unicodedata (its Unicode version may be older than Node's ICU,
// so the checks go one way: what Python calls Cc/Cf/Zl/Zp must be marked, what it calls a
// letter, number, punctuation, symbol or space separator must not be, and whatever is
// marked must be hidden in Python's eyes, a surrogate, or unassigned in its version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { displayText } from '../../www/shared/text.js';

const ORACLE = `
import json, sys, unicodedata
groups = {}
for cp in range(0x110000):
    cat = unicodedata.category(chr(cp))
    key = 'hidden' if cat in ('Cc', 'Cf', 'Zl', 'Zp') else 'visible' if cat[0] in 'LNPS' or cat == 'Zs' else cat
    runs = groups.setdefault(key, [])
    if runs and runs[-1][1] == cp - 1:
        runs[-1][1] = cp
    else:
        runs.append([cp, cp])
json.dump({'unidata': unicodedata.unidata_version, 'groups': groups}, sys.stdout)
`;

const oracle = JSON.parse(execFileSync('python3', ['-c', ORACLE], { encoding: 'utf8', maxBuffer: 64 << 20 }));
const groups = oracle.groups;

function* codePoints(runs) {
  for (const [a, b] of runs) for (let cp = a; cp <= b; cp += 1) yield cp;
}

const hex = (cp) => cp.toString(16).toUpperCase().padStart(4, '0');

test(`every Cc, Cf, Zl, Zp code point (Unicode ${oracle.unidata} per Python) is marked with its full code point`, () => {
  let n = 0;
  for (const cp of codePoints(groups.hidden)) {
    const c = String.fromCodePoint(cp);
    const want = `⟨U+${hex(cp)}⟩`;
    assert.equal(displayText(c), want, `U+${hex(cp)}`);
    const out = displayText(`a${c}b`);
    assert.equal(out, `a${want}b`, `U+${hex(cp)} between letters`);
    assert.ok(!out.includes(c), `U+${hex(cp)} is still there`);
    n += 1;
  }
  assert.ok(n > 200, `only ${n} hidden code points from the oracle`);
});

test('every letter, number, punctuation, symbol and space separator is shown as is', () => {
  let n = 0;
  for (const cp of codePoints(groups.visible)) {
    const c = String.fromCodePoint(cp);
    if (displayText(c) !== c) assert.fail(`U+${hex(cp)} (${c}) was marked: ${displayText(c)}`);
    n += 1;
  }
  assert.ok(n > 100_000, `only ${n} visible code points from the oracle`);
});

test('nothing is marked that Python calls visible, a mark, private use: only hidden, surrogate or newer', () => {
  const allowed = new Set(['hidden', 'Cs', 'Cn']);
  const unexpected = [];
  for (const [key, runs] of Object.entries(groups)) {
    if (allowed.has(key)) continue;
    for (const cp of codePoints(runs)) {
      const c = String.fromCodePoint(cp);
      if (displayText(c) !== c) unexpected.push(`U+${hex(cp)} (${key})`);
    }
  }
  assert.deepEqual(unexpected.slice(0, 20), []);
});

test('the ones named in the brief: tab, newline, ALM, soft hyphen, Mongolian vowel separator, interlinear, tags, musical, hieroglyph', () => {
  const cases = [0x09, 0x0a, 0x0d, 0x061c, 0x00ad, 0x180e, 0xfff9, 0xfffa, 0xfffb, 0xe0000, 0xe0001, 0xe0041, 0xe007f, 0x1d173, 0x1d17a, 0x13430, 0x1343f, 0x2028, 0x2029, 0x202e, 0x2066, 0x200b, 0x200c, 0x200e, 0xfeff];
  for (const cp of cases) assert.equal(displayText(`x${String.fromCodePoint(cp)}y`), `x⟨U+${hex(cp)}⟩y`, `U+${hex(cp)}`);
  // Unassigned but default ignorable (drawn as nothing): the rest of the tag block and its
  // neighbours; the variation selectors among them stay.
  for (const cp of [0xe0000, 0xe0002, 0xe001f, 0xe0080, 0xe00ff, 0xe01f0, 0xe0fff, 0x2065, 0xfff0, 0xfff8]) {
    assert.equal(displayText(String.fromCodePoint(cp)), `⟨U+${hex(cp)}⟩`, `U+${hex(cp)}`);
  }
  for (const cp of [0xfe0f, 0xe0100, 0xe01ef, 0x034f]) assert.equal(displayText(String.fromCodePoint(cp)), String.fromCodePoint(cp));
  // A tag sequence (invisible text smuggled after a flag) is spelled out, one tag at a time.
  assert.equal(displayText('🏴\u{E0067}\u{E0062}\u{E007F}'), '🏴⟨U+E0067⟩⟨U+E0062⟩⟨U+E007F⟩');
});

test('lone surrogates are marked; pairs are not split', () => {
  for (let u = 0xd800; u <= 0xdfff; u += 1) {
    const c = String.fromCharCode(u);
    assert.equal(displayText(c), `⟨U+${hex(u)}⟩`);
    assert.equal(displayText(`a${c}b`), `a⟨U+${hex(u)}⟩b`);
  }
  assert.equal(displayText('\uDC00\uD800'), '⟨U+DC00⟩⟨U+D800⟩', 'reversed halves are two lone surrogates');
  assert.equal(displayText('😀'), '😀');
  assert.equal(displayText('\uD83D'), '⟨U+D83D⟩');
  assert.equal(displayText('😀\uD83D'), '😀⟨U+D83D⟩');
});

test('a ZWJ between two pictographs stays (emoji sequences); anywhere else it is marked', () => {
  const family = '👨\u200D👩\u200D👧';
  assert.equal(displayText(family), family);
  assert.equal(displayText(`team ${family}!`), `team ${family}!`);
  assert.equal(displayText('❤\u200D🔥'), '❤\u200D🔥', 'a BMP pictograph before the joiner');
  assert.equal(displayText('zero\u200Dwidth'), 'zero⟨U+200D⟩width');
  assert.equal(displayText('\u200D'), '⟨U+200D⟩');
  assert.equal(displayText('👨\u200D'), '👨⟨U+200D⟩', 'nothing after');
  assert.equal(displayText('\u200D👨'), '⟨U+200D⟩👨', 'nothing before');
  assert.equal(displayText('👨\u200D\u200D👩'), '👨⟨U+200D⟩⟨U+200D⟩👩', 'two joiners: neither is between two pictographs');
  assert.equal(displayText('a\u200D👩'), 'a⟨U+200D⟩👩');
  assert.equal(displayText('\uDC68\u200D👩'), '⟨U+DC68⟩⟨U+200D⟩👩', 'a lone low surrogate is no pictograph');
  // Other invisible characters inside an emoji sequence are still marked.
  assert.equal(displayText('👨\u200D\u202E👩'), '👨⟨U+200D⟩⟨U+202E⟩👩');
});

test('values of any type become strings; ordinary text is untouched', () => {
  assert.equal(displayText(42), '42');
  assert.equal(displayText(null), 'null');
  assert.equal(displayText('cust_\u202Eevil_txt.exe'), 'cust_⟨U+202E⟩evil_txt.exe');
  assert.equal(displayText('Grüße, 東京, مرحبا, עברית'), 'Grüße, 東京, مرحبا, עברית');
  assert.equal(displayText('a b\u00A0c'), 'a b\u00A0c', 'spaces (Zs) stay');
});

// www/shared/ui.js time zones: the `time-zone` attribute resolved to an IANA name, and times the
// page writes itself formatted in that zone, right on both sides of a DST change; times
// out of the Date range or not finite are written as numbers and never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellText,
  formatTimeRange,
  formatTimestamp,
  localTimeZone,
  offsetMinutes,
  renderTimeOptions,
  resolveTimeZone,
  timeFormats,
  timeZoneNote,
  timeZoneProblem,
} from '../../www/shared/ui.js';

const at = (iso) => Date.parse(iso) / 1000; // unix seconds
const NY = 'America/New_York';

test('the attribute resolves once to an IANA name: utc, local, names, nonsense', () => {
  const local = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  assert.equal(localTimeZone(), local);
  for (const a of ['utc', 'UTC', ' Utc ']) assert.equal(resolveTimeZone(a), 'UTC', a);
  for (const a of [null, undefined, '', 'local', 'LOCAL']) assert.equal(resolveTimeZone(a), local, String(a));
  assert.equal(resolveTimeZone(NY), NY);
  assert.equal(resolveTimeZone('europe/berlin'), 'Europe/Berlin', 'canonical case');
  for (const bad of ['Mars/Olympus_Mons', 'Not a zone', '../../etc/passwd', 'UTC+99', 42, {}]) {
    assert.equal(resolveTimeZone(bad), local, String(bad));
  }
  assert.equal(timeZoneProblem(NY), '');
  assert.equal(timeZoneProblem('utc'), '');
  assert.equal(timeZoneProblem(null), '');
  assert.equal(timeZoneProblem('Mars/Olympus_Mons'), `unknown time zone "Mars/Olympus_Mons": times are local (${local})`);
  assert.equal(timeZoneProblem('Mars/\u202Eevil'), `unknown time zone "Mars/⟨U+202E⟩evil": times are local (${local})`, 'the name is shown safely');
  assert.equal(timeZoneNote(NY), `times in ${NY}`);
  assert.equal(timeZoneNote('utc'), 'times in UTC');
  assert.equal(timeZoneNote('local'), '');
  assert.match(timeZoneNote('Mars/Olympus_Mons'), /^unknown time zone/);
});

test('America/New_York across the spring change: 06:30 and 07:30 UTC are 01:30 EST and 03:30 EDT', () => {
  const before = at('2026-03-08T06:30:00Z');
  const after = at('2026-03-08T07:30:00Z');
  assert.equal(formatTimestamp(before, NY), '2026-03-08 01:30:00 GMT-5');
  assert.equal(formatTimestamp(after, NY), '2026-03-08 03:30:00 GMT-4');
  assert.equal(timeFormats(NY).time.format(before * 1000), '01:30');
  assert.equal(timeFormats(NY).time.format(after * 1000), '03:30');
  const range = formatTimeRange(before, after, NY);
  assert.match(range, /^Mar 8, 01:30 GMT-5 – 03:30 GMT-4$/, range);
  assert.equal(offsetMinutes(NY, before), -300);
  assert.equal(offsetMinutes(NY, after), -240);
  assert.deepEqual(renderTimeOptions(NY, after), { time_zone: NY });
  assert.equal(cellText(after, { role: 'time' }, NY), '2026-03-08 03:30:00 GMT-4');
});

test('the repeated hour in the fall reads differently; Europe/Berlin; fractions; UTC', () => {
  assert.equal(formatTimestamp(at('2026-11-01T05:30:00Z'), NY), '2026-11-01 01:30:00 GMT-4');
  assert.equal(formatTimestamp(at('2026-11-01T06:30:00Z'), NY), '2026-11-01 01:30:00 GMT-5');
  assert.equal(formatTimestamp(at('2026-03-29T00:30:00Z'), 'Europe/Berlin'), '2026-03-29 01:30:00 GMT+1');
  assert.equal(formatTimestamp(at('2026-03-29T01:30:00Z'), 'Europe/Berlin'), '2026-03-29 03:30:00 GMT+2');
  assert.equal(offsetMinutes('Asia/Kolkata', at('2026-03-29T01:30:00Z')), 330);
  assert.equal(formatTimestamp(1793491199.898, 'utc'), '2026-10-31 23:59:59.898 UTC');
  assert.equal(formatTimestamp(1793491199.9999999, 'utc'), '2026-11-01 00:00:00 UTC', 'rounded to the millisecond, then split');
  assert.equal(formatTimestamp(-1.5, 'utc'), '1969-12-31 23:59:58.500 UTC');
  assert.equal(formatTimeRange(at('2026-10-31T16:00:00Z'), at('2026-10-31T16:30:00Z'), 'utc'), 'Oct 31, 16:00 – 16:30 UTC');
  assert.equal(formatTimeRange(at('2026-10-31T16:00:00Z'), at('2026-10-31T16:01:00Z'), 'utc'), 'Oct 31, 16:00:00 – 16:01:00 UTC');
  assert.equal(formatTimeRange(at('2026-10-30T23:00:00Z'), at('2026-10-31T23:00:00Z'), 'UTC'), 'Oct 30, 23:00 – Oct 31, 23:00 UTC');
  assert.equal(formatTimeRange(at('2026-07-01T12:00:00Z'), at('2026-07-01T13:00:00Z'), NY), 'Jul 1, 08:00 – 09:00 GMT-4', 'one offset when both ends share it');
  assert.equal(timeFormats(NY).day(at('2026-07-01T02:00:00Z')), 'Jun 30, 2026');
  // An unknown zone is local time, written without a zone.
  const local = formatTimeRange(at('2026-10-31T16:00:00Z'), at('2026-10-31T16:30:00Z'), 'Mars/Olympus_Mons');
  assert.equal(local, formatTimeRange(at('2026-10-31T16:00:00Z'), at('2026-10-31T16:30:00Z'), 'local'));
  assert.ok(!/GMT|UTC/.test(local), local);
});

test('times out of the Date range, NaN and infinities are written as numbers and never throw', () => {
  const cases = [Number.NaN, Infinity, -Infinity, 8.64e12 + 1, -8.64e12 - 1, 1e300, -1e300, Number.MAX_VALUE];
  for (const t of cases) {
    for (const zone of [NY, 'utc', null, 'Mars/Olympus_Mons']) {
      assert.equal(formatTimestamp(t, zone), String(t), `${t} ${zone}`);
      assert.equal(cellText(t, { role: 'time' }, zone), String(t));
      assert.equal(timeFormats(zone).day(t), String(t));
      assert.equal(offsetMinutes(zone, t), 0);
      assert.equal(typeof renderTimeOptions(zone, t).time_zone, 'string'); // an IANA name, whatever t
      assert.equal(formatTimeRange(t, t, zone), `${t} – ${t}`);
    }
  }
  // The edge of the Date range still formats; one end out of range keeps the other.
  assert.equal(formatTimestamp(8.64e12, 'utc'), '+275760-09-13 00:00:00 UTC'.replace('+', ''));
  assert.equal(formatTimeRange(Number.NaN, at('2026-10-31T16:00:00Z'), 'utc'), 'NaN – Oct 31, 16:00 UTC');
  assert.equal(formatTimeRange(at('2026-10-31T16:00:00Z'), 1e300, 'utc'), 'Oct 31, 16:00 UTC – 1e+300');
  assert.equal(formatTimestamp('not a time', 'utc'), 'not a time');
});

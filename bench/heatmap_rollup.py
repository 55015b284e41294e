"""A trial for the heatmap under 1 s at 100M events (issue 14): a rollup table.

Over the `events` table bench/clickhouse_scale.py leaves in SESSION_DIR, builds once

  events_heat: count per (minute, duration cell), the cell being the float's exponent
  and top 6 mantissa bits (1/64 of an octave, the cells the engine's own bucketer
  tables use), a SummingMergeTree

and answers the 120 x 40 log heatmap from it: the time buckets are whole minutes (12
min), so they are exact; a value cell that straddles a bucket edge is counted in the
bucket of its lower end, so some events move to the next bucket down. The script
measures the rollup's build time and size, the query's median time against the exact
query on `events`, and how many events land in another cell than the exact answer
puts them.

  python3 bench/clickhouse_scale.py 100000000 3 DIR   # leaves DIR with `events`
  python3 bench/heatmap_rollup.py DIR [runs=5]
"""
import statistics
import sys
import time

from chdb import session

DIR = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
T0_MS = 1_793_404_800_000
WIDTH_MS = 86_400_000 // 120
sess = session.Session(DIR)
q = lambda sql: sess.query(sql, "CSV").bytes().decode()
rows = int(q("SELECT count() FROM events").strip())
lo, hi = (float(x) for x in q("SELECT min(duration_ms), max(duration_ms) FROM events").strip().split(","))
VB = 40
import math

edges = [lo] + [10 ** (math.log10(lo) + (math.log10(hi) - math.log10(lo)) * k / VB) for k in range(1, VB)] + [hi]


def tree(v, a, b):
    if a >= b:
        return str(a)
    mid = (a + b + 1) // 2
    return f"if({v} < {edges[mid]!r}, {tree(v, a, mid - 1)}, {tree(v, mid, b)})"


exact = f"""SELECT intDiv(toUnixTimestamp64Milli(timestamp) - {T0_MS}, {WIDTH_MS}) AS tb, {tree('duration_ms', 0, VB - 1)} AS vb, count() AS n
FROM events GROUP BY tb, vb ORDER BY tb, vb"""
sess.query("DROP TABLE IF EXISTS events_heat")
t = time.perf_counter()
sess.query("CREATE TABLE events_heat (m DateTime('UTC'), c UInt64, n UInt64) ENGINE = SummingMergeTree ORDER BY (m, c)")
sess.query("""INSERT INTO events_heat SELECT toStartOfMinute(timestamp) AS m, bitShiftRight(reinterpretAsUInt64(duration_ms), 46) AS c, count() AS n
FROM events GROUP BY m, c""")
build = time.perf_counter() - t
heat_rows = int(q("SELECT count() FROM events_heat").strip())
rollup = f"""SELECT intDiv(toUnixTimestamp(m) * 1000 - {T0_MS}, {WIDTH_MS}) AS tb,
  {tree('greatest(reinterpretAsFloat64(bitShiftLeft(c, 46)), ' + repr(lo) + ')', 0, VB - 1)} AS vb, sum(n) AS n
FROM events_heat GROUP BY tb, vb ORDER BY tb, vb"""


def timed(sql):
    times, out = [], ""
    for _ in range(RUNS):
        t = time.perf_counter()
        out = q(sql)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


t_exact, a = timed(exact)
t_roll, b = timed(rollup)
cells = lambda text: {tuple(map(int, l.split(",")[:2])): int(l.split(",")[2]) for l in text.strip().splitlines()}
ca, cb = cells(a), cells(b)
moved = sum(abs(ca.get(k, 0) - cb.get(k, 0)) for k in set(ca) | set(cb)) // 2
assert sum(ca.values()) == sum(cb.values()) == rows
print(f"{rows:,} events; rollup events_heat built in {build:.1f} s: {heat_rows:,} rows ({heat_rows / rows:.4%} of the events)")
print(f"heatmap 120x40, exact on events:      {t_exact:.2f} s (median of {RUNS})")
print(f"heatmap 120x40, from the rollup:      {t_roll:.3f} s (median of {RUNS})")
print(f"events in another cell than exactly: {moved:,} ({moved / rows:.3%}), each one bucket down at most")
sess.close()

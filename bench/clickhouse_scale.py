"""The floor for server-side execution on ClickHouse (issue 14): ClickHouse's own time,
in-process (PyPI chdb, as the tests use it), for the three views Sightline asks of a
large table, written as bare SQL:

  heatmap     120 time x 40 log-duration buckets over every event
  breakdown   COUNT and exact P50/P95/P99 of duration per customer (20,000 groups)
  compare     both sides' counts of every value of 5 dimensions (GROUPING SETS),
              the selection being duration_ms >= 1000

The events are OTel-style and generated in SQL from numbers(N) with hash functions
(repeatable, no Python loops): 24 hours of timestamps in order, log-normal durations
with a slow customer and a slow build, 20,000 customers, 40 endpoints, 6 regions,
12 builds, status codes and errors.

  python3 bench/clickhouse_scale.py [rows=100000000] [runs=3] [session_dir]

Prints the generation time and, per query, the median wall time of `runs` runs and
the rows it returned.

Then the same three questions through Sightline: chdb is served over ClickHouse's HTTP
interface (server/tests/chdb_run.py serve, as the tests do), `target/release/sightline
serve --clickhouse URL --table events` runs in front of it, and each spec is POSTed to
/api/query or /api/compare as the component sends it: median wall time of `runs`
runs, and the bytes the browser would receive (the JSON body, gzip as the server sends it to
a client that accepts it). The ratio to the bare
SQL is the cost of the plan's extra statements (time extent, counts, value range).

With SIGHTLINE_EXPORT=FILE the table is also written as an Arrow IPC stream, for
`node bench/local_rows.mjs FILE` (the same specs in wasm, in one tab).
"""
import json
import os
import subprocess
import urllib.request
import statistics
import sys
import tempfile
import time

from chdb import session

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
DIR = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="sightline-chdb-")
T0_MS = 1_793_404_800_000  # 2026-10-31 00:00 UTC
SPAN_MS = 86_400_000

sess = session.Session(DIR)
sess.query("DROP TABLE IF EXISTS events")
sess.query(
    """
CREATE TABLE events (
  timestamp DateTime64(3, 'UTC'),
  duration_ms Float64,
  customer_id String,
  endpoint LowCardinality(String),
  region LowCardinality(String),
  build_id LowCardinality(String),
  plan LowCardinality(String),
  status_code UInt16,
  error Nullable(String),
  trace_id String
) ENGINE = MergeTree ORDER BY timestamp
"""
)
t = time.perf_counter()
sess.query(
    f"""
INSERT INTO events
SELECT
  fromUnixTimestamp64Milli(toInt64({T0_MS} + intDiv(number * {SPAN_MS}, {ROWS})), 'UTC') AS timestamp,
  exp(3.5 + 1.6 * sqrt(-2 * log((cityHash64(number, 1) % 1000000 + 1) / 1000001))
          * cos(2 * pi() * (cityHash64(number, 2) % 1000000) / 1000000))
    * if(customer_id = 'cust_00042', 4, 1) * if(build_id = 'build-07', 2.5, 1) AS duration_ms,
  concat('cust_', leftPad(toString(toUInt32(pow(cityHash64(number, 3) % 1000000 / 1000000, 2) * 20000)), 5, '0')) AS customer_id,
  concat('/api/v1/', toString(cityHash64(number, 4) % 40)) AS endpoint,
  ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-south-1', 'ap-northeast-1'][cityHash64(number, 5) % 6 + 1] AS region,
  concat('build-', leftPad(toString(cityHash64(number, 6) % 12), 2, '0')) AS build_id,
  ['free', 'pro', 'enterprise'][cityHash64(number, 7) % 3 + 1] AS plan,
  [200, 200, 200, 200, 200, 200, 201, 204, 301, 400, 404, 500, 503][cityHash64(number, 8) % 13 + 1] AS status_code,
  if(status_code >= 500, concat('upstream error ', toString(cityHash64(number, 9) % 7)), NULL) AS error,
  lower(hex(cityHash64(number, 10))) AS trace_id
FROM numbers({ROWS})
"""
)
gen = time.perf_counter() - t
count = int(sess.query("SELECT count() FROM events", "CSV").bytes().decode().strip())
assert count == ROWS, count

lo, hi = (float(x) for x in sess.query("SELECT min(duration_ms), max(duration_ms) FROM events", "CSV").bytes().decode().strip().split(","))
la, lb = __import__("math").log10(lo), __import__("math").log10(hi)
width = SPAN_MS // 120
queries = {
    "heatmap 120x40": f"""
SELECT intDiv(toUnixTimestamp64Milli(timestamp) - {T0_MS}, {width}) AS tb,
       least(39, toUInt32(greatest(0, floor((log10(duration_ms) - {la!r}) / {(lb - la)!r} * 40)))) AS vb,
       count() AS n
FROM events GROUP BY tb, vb""",
    "breakdown 20k groups P50/P95/P99": """
SELECT customer_id, count() AS n, quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q
FROM events GROUP BY customer_id""",
    "compare 5 dimensions": """
SELECT duration_ms >= 1000 AS sel, endpoint, region, build_id, plan, status_code, count() AS n
FROM events
GROUP BY GROUPING SETS ((sel, endpoint), (sel, region), (sel, build_id), (sel, plan), (sel, status_code))""",
}
print(f"chdb {sess.query('SELECT version()', 'CSV').bytes().decode().strip()}: {ROWS:,} events generated in {gen:.1f} s ({DIR})")
print(f"{'query':<34} {'median s':>9} {'runs':>5} {'rows out':>9}")
floors = {}
for name, sql in queries.items():
    times, rows = [], 0
    for _ in range(RUNS):
        t = time.perf_counter()
        out = sess.query(sql, "CSV").bytes()
        times.append(time.perf_counter() - t)
        rows = out.count(b"\n")
    print(f"{name:<34} {statistics.median(times):>9.2f} {RUNS:>5} {rows:>9,}")
    floors[name] = statistics.median(times)
if os.environ.get("SIGHTLINE_EXPORT"):
    t = time.perf_counter()
    with open(os.environ["SIGHTLINE_EXPORT"], "wb") as f:
        f.write(sess.query("SELECT * FROM events ORDER BY timestamp", "ArrowStream").bytes())
    print(f"exported to {os.environ['SIGHTLINE_EXPORT']} in {time.perf_counter() - t:.1f} s")
sess.close()

# Through Sightline.
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "target/release/sightline")
port_file = os.path.join(DIR, "chdb.port")
if os.path.exists(port_file):
    os.remove(port_file)
chdb_http = subprocess.Popen(["python3", os.path.join(ROOT, "server/tests/chdb_run.py"), "serve", DIR, "bench:bench", port_file])
server = None
try:
    while not os.path.exists(port_file):
        assert chdb_http.poll() is None, "chdb_run.py serve exited"
        time.sleep(0.1)
    ch_url = f"http://127.0.0.1:{open(port_file).read().strip()}"
    server = subprocess.Popen(
        [BIN, "serve", "--port", "0", "--root", ROOT, "--clickhouse", ch_url, "--table", "events",
         "--clickhouse-user", "bench", "--timeout", "600"],
        stdout=subprocess.PIPE, env={**os.environ, "SIGHTLINE_CLICKHOUSE_PASSWORD": "bench"},
    )
    line = server.stdout.readline().decode()
    base = line.split(": ", 1)[1].strip().rstrip("/")
    specs = {
        "heatmap 120x40": ("/api/query", {"calculations": [{"op": "HEATMAP", "column": "duration_ms"}],
                                          "heatmap": {"value_buckets": 40, "time_buckets": 120}, "disable_series": True}),
        "breakdown 20k groups P50/P95/P99": ("/api/query", {
            "calculations": [{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"},
                             {"op": "P95", "column": "duration_ms"}, {"op": "P99", "column": "duration_ms"}],
            "breakdowns": ["customer_id"], "limit": 10000, "disable_series": True}),
        "compare 5 dimensions": ("/api/compare", {
            "selection": {"filters": [{"column": "duration_ms", "op": ">=", "value": 1000}]},
            "dimensions": ["endpoint", "region", "build_id", "plan", "status_code"], "measures": []}),
    }
    print(f"\nthrough `sightline serve --clickhouse` ({ch_url}, chdb behind ClickHouse's HTTP interface)")
    print(f"{'query':<34} {'median s':>9} {'x bare SQL':>10} {'bytes out':>10}")  # gzip
    for name, (path, spec) in specs.items():
        times, size = [], 0
        for _ in range(RUNS):
            body = json.dumps({"source": "events", "spec": spec}).encode()
            # As a browser asks: compressed (the server answers gzip; zstd and br too).
            req = urllib.request.Request(base + path, data=body, headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=900) as r:
                out = r.read()
            times.append(time.perf_counter() - t)
            size = len(out)
        m = statistics.median(times)
        print(f"{name:<34} {m:>9.2f} {m / floors[name]:>10.2f} {size:>10,}")
finally:
    if server:
        server.kill()
    chdb_http.kill()

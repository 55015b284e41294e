"""Runs SQL cases with DuckDB over Arrow IPC files, for tests/oracle.rs.

usage: python3 tests/oracle/duckdb_run.py CASES.json OUT.json
CASES.json: [{"data": "path.arrow", "sql": "..."}]; OUT.json: [[row, ...], ...] with rows as lists.
"""
import decimal
import json
import math
import sys

import duckdb
import pyarrow as pa

cases = json.load(open(sys.argv[1]))
con = duckdb.connect()
tables = {}
out = []


def plain(v):
    # As the engine returns them: integers beyond JavaScript's safe range as decimal
    # strings, non-finite floats as "inf", "-inf", "nan" (JSON has no such numbers).
    if isinstance(v, decimal.Decimal):
        v = float(v)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return str(v)


for case in cases:
    path = case["data"]
    if path not in tables:
        tables[path] = pa.ipc.open_stream(path).read_all()
    t = tables[path]  # noqa: F841 (DuckDB scans the Python variable `t`)
    rows = con.execute(case["sql"]).fetchall()
    out.append([[plain(v) for v in r] for r in rows])
json.dump(out, open(sys.argv[2], "w"))

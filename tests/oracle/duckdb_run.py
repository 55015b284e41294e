"""Runs SQL cases with DuckDB over Arrow IPC files, for tests/oracle.rs.

usage: python3 tests/oracle/duckdb_run.py CASES.json OUT.json
CASES.json: [{"data": "path.arrow", "sql": "..."}]; OUT.json: [[row, ...], ...] with rows as lists.
"""
import decimal
import json
import sys

import duckdb
import pyarrow as pa

cases = json.load(open(sys.argv[1]))
con = duckdb.connect()
tables = {}
out = []


def plain(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return str(v)


for case in cases:
    path = case["data"]
    if path not in tables:
        tables[path] = pa.ipc.open_stream(path).read_all()
    t = tables[path]  # noqa: F841 (DuckDB scans the Python variable `t`)
    rows = con.execute(case["sql"]).fetchall()
    out.append([[plain(v) for v in r] for r in rows])
json.dump(out, open(sys.argv[2], "w"))

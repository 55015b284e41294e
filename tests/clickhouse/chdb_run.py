"""Runs Sightline's ClickHouse SQL in the real ClickHouse engine, in-process (PyPI chdb),
for tests/clickhouse.rs.

usage:
  python3 tests/clickhouse/chdb_run.py setup SESSION_DIR TABLES.json OUT.json
      TABLES.json: [{"name", "quoted", "path_literal"}]; loads each Arrow IPC stream file
      into a MergeTree table; OUT.json: {name: DESCRIBE output as TabSeparated}.
  python3 tests/clickhouse/chdb_run.py run SESSION_DIR CASES.json OUT_DIR
      CASES.json: [{"id", "sql"}] (each SQL ends in FORMAT ArrowStream); writes
      OUT_DIR/<id>.arrow with ClickHouse's bytes, and OUT_DIR/errors.json {id: message}.
"""
import json
import os
import sys

from chdb import session

cmd, session_dir, arg, out = sys.argv[1:5]
sess = session.Session(session_dir)
if cmd == "setup":
    described = {}
    for t in json.load(open(arg)):
        sess.query(f"DROP TABLE IF EXISTS {t['quoted']}")
        sess.query(
            f"CREATE TABLE {t['quoted']} ENGINE = MergeTree ORDER BY tuple() "
            f"AS SELECT * FROM file({t['path_literal']}, 'ArrowStream')"
        )
        described[t["name"]] = sess.query(f"DESCRIBE TABLE {t['quoted']} FORMAT TabSeparated").bytes().decode()
    json.dump(described, open(out, "w"))
elif cmd == "run":
    errors = {}
    for case in json.load(open(arg)):
        try:
            data = sess.query(case["sql"]).bytes()
            with open(os.path.join(out, case["id"] + ".arrow"), "wb") as f:
                f.write(data)
        except Exception as e:  # reported per case; the Rust test fails on any
            errors[case["id"]] = str(e)
    json.dump(errors, open(os.path.join(out, "errors.json"), "w"))
else:
    sys.exit(f"unknown command {cmd}")
sess.close()

"""Runs Sightline's ClickHouse SQL in the real ClickHouse engine, in-process (PyPI chdb),
for server/tests/clickhouse.rs.

usage:
  python3 server/tests/chdb_run.py setup SESSION_DIR TABLES.json OUT.json
      TABLES.json: [{"name", "quoted", "path_literal"}]; loads each Arrow IPC stream file
      into a MergeTree table; OUT.json: {name: DESCRIBE output as TabSeparated}.
  python3 server/tests/chdb_run.py run SESSION_DIR CASES.json OUT_DIR
      CASES.json: [{"id", "sql"}] (each SQL ends in FORMAT ArrowStream); writes
      OUT_DIR/<id>.arrow with ClickHouse's bytes, and OUT_DIR/errors.json {id: message}.
  python3 server/tests/chdb_run.py serve SESSION_DIR USER:PASSWORD PORT_FILE
      ClickHouse's HTTP interface over the session, on 127.0.0.1 (a free port, written
      to PORT_FILE): POST the SQL as the body, with X-ClickHouse-User and
      X-ClickHouse-Key; 200 and the answer's bytes (chunked), or ClickHouse's status
      and exception text. Connections are served on threads (a client's pool keeps
      several open), queries one at a time; runs until killed.
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
elif cmd == "serve":
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()

    user, password = arg.split(":", 1)

    class ClickHouseHTTP(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def fail(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("X-ClickHouse-Exception-Code", "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            sql = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            if self.headers.get("X-ClickHouse-User") != user or self.headers.get("X-ClickHouse-Key") != password:
                return self.fail(403, f"Code: 516. DB::Exception: {user}: Authentication failed. (AUTHENTICATION_FAILED)")
            try:
                with lock:
                    data = sess.query(sql).bytes()
            except Exception as e:
                return self.fail(500, str(e))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 1 << 16):
                piece = data[i : i + (1 << 16)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ClickHouseHTTP)
    httpd.daemon_threads = True
    with open(out + ".tmp", "w") as f:
        f.write(str(httpd.server_address[1]))
    os.rename(out + ".tmp", out)
    httpd.serve_forever()
else:
    sys.exit(f"unknown command {cmd}")
sess.close()

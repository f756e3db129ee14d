"""A small Hrana 3 over HTTP server that executes on a real libSQL file.

Stands in for a Turso/sqld primary in tests (no libSQL server can be installed here).
It speaks the wire format the ``libsql`` client really sends, ``POST /v3/pipeline``
with JSON bodies, checks ``Authorization: Bearer <token>``, and keeps one libSQL
connection per stream, identified by a fresh baton after every response, so
transactions that span requests (``BEGIN IMMEDIATE`` … ``COMMIT``) work as on sqld.

Run it in its own process: the ``libsql`` binding keeps the GIL during network waits,
so a client and a server in one interpreter would deadlock::

    python hrana_server.py /path/to/file.db TOKEN   # prints the port, then serves

Not covered (see the package README): WebSocket Hrana, ``/v2``, replication and
embedded-replica sync frames, sqld's limits (statement size, timeouts, stream expiry).
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import libsql

Json = dict[str, Any]


def encode_value(value: Any) -> Json:
    """A Python value from libSQL as a Hrana ``Value``."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool | int):
        return {"type": "integer", "value": str(int(value))}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, bytes):
        return {"type": "blob", "base64": base64.b64encode(value).decode().rstrip("=")}
    return {"type": "text", "value": str(value)}


def decode_value(value: Json) -> Any:
    kind = value["type"]
    if kind == "null":
        return None
    if kind == "integer":
        return int(value["value"])
    if kind == "float":
        return float(value["value"])
    if kind == "blob":
        raw = value["base64"]
        return base64.b64decode(raw + "=" * (-len(raw) % 4))
    return value["value"]


class HranaError(Exception):
    def __init__(self, message: str, code: str = "SQLITE_ERROR") -> None:
        super().__init__(message)
        self.code = code


class Stream:
    """One Hrana stream: one libSQL connection and the SQL texts stored on it."""

    def __init__(self, path: str) -> None:
        # timeout 0: a busy wait would hold the GIL and stall the whole server; the client
        # gets "database is locked" back and retries, as with sqld.
        self.conn = libsql.connect(path, isolation_level=None, timeout=0.0)
        self.sqls: dict[int, str] = {}

    def sql_of(self, body: Json) -> str:
        if body.get("sql") is not None:
            return str(body["sql"])
        sql_id = body.get("sql_id")
        if sql_id not in self.sqls:
            raise HranaError(f"unknown sql_id {sql_id}", "SQL_NOT_FOUND")
        return self.sqls[sql_id]

    def execute(self, stmt: Json) -> Json:
        sql = self.sql_of(stmt)
        if stmt.get("named_args"):
            raise HranaError("named arguments are not supported by this test server")
        args = tuple(decode_value(v) for v in stmt.get("args") or [])
        try:
            cursor = self.conn.execute(sql, args)
            rows = cursor.fetchall() or []
            description = cursor.description or ()
        except ValueError as exc:
            raise HranaError(str(exc)) from exc
        want_rows = stmt.get("want_rows", True)
        return {
            "cols": [{"name": d[0], "decltype": None} for d in description],
            "rows": [[encode_value(v) for v in row] for row in rows] if want_rows else [],
            "affected_row_count": max(int(cursor.rowcount), 0),
            "last_insert_rowid": str(cursor.lastrowid) if cursor.lastrowid else None,
            "replication_index": None,
            "rows_read": len(rows),
            "rows_written": max(int(cursor.rowcount), 0),
            "query_duration_ms": 0.0,
        }

    def describe(self, body: Json) -> Json:
        """Compile without running: ``EXPLAIN`` shows parameters, result width and writes."""
        sql = self.sql_of(body)
        try:
            program = self.conn.execute("EXPLAIN " + sql).fetchall() or []
        except ValueError as exc:
            raise HranaError(str(exc)) from exc
        params = max((int(r[2]) for r in program if r[1] == "Variable"), default=0)
        width = max((int(r[3]) for r in program if r[1] == "ResultRow"), default=0)
        writes = any(r[1] == "Transaction" and int(r[3]) != 0 for r in program)
        return {
            "params": [{"name": None} for _ in range(params)],
            "cols": [{"name": f"column{i}", "decltype": None} for i in range(width)],
            "is_explain": sql.lstrip().upper().startswith("EXPLAIN"),
            "is_readonly": not writes,
        }

    def batch(self, batch: Json) -> Json:
        results: list[Json | None] = []
        errors: list[Json | None] = []
        for step in batch["steps"]:
            if not self._holds(step.get("condition"), results, errors):
                results.append(None)
                errors.append(None)
                continue
            try:
                results.append(self.execute(step["stmt"]))
                errors.append(None)
            except HranaError as exc:
                results.append(None)
                errors.append({"message": str(exc), "code": exc.code})
        return {"step_results": results, "step_errors": errors, "replication_index": None}

    def _holds(self, cond: Json | None, results: list[Any], errors: list[Any]) -> bool:
        if cond is None:
            return True
        kind = cond["type"]
        if kind == "ok":
            return results[cond["step"]] is not None
        if kind == "error":
            return errors[cond["step"]] is not None
        if kind == "not":
            return not self._holds(cond["cond"], results, errors)
        if kind == "and":
            return all(self._holds(c, results, errors) for c in cond["conds"])
        if kind == "or":
            return any(self._holds(c, results, errors) for c in cond["conds"])
        if kind == "is_autocommit":
            return not self.conn.in_transaction
        raise HranaError(f"unknown batch condition {kind}")

    def handle(self, request: Json) -> Json:
        kind = request["type"]
        if kind == "execute":
            return {"type": "execute", "result": self.execute(request["stmt"])}
        if kind == "batch":
            return {"type": "batch", "result": self.batch(request["batch"])}
        if kind == "describe":
            return {"type": "describe", "result": self.describe(request)}
        if kind == "sequence":
            try:
                self.conn.executescript(self.sql_of(request))
            except ValueError as exc:
                raise HranaError(str(exc)) from exc
            return {"type": "sequence"}
        if kind == "store_sql":
            self.sqls[request["sql_id"]] = request["sql"]
            return {"type": "store_sql"}
        if kind == "close_sql":
            self.sqls.pop(request["sql_id"], None)
            return {"type": "close_sql"}
        if kind == "get_autocommit":
            return {"type": "get_autocommit", "is_autocommit": not self.conn.in_transaction}
        raise HranaError(f"unknown request type {kind}")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn = None


class HranaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, path: str, token: str, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.path = path
        self.token = token
        self.streams: dict[str, Stream] = {}
        self.lock = threading.Lock()
        self.requests_seen: list[str] = []

    def pipeline(self, body: Json) -> Json:
        with self.lock:
            stream = self._stream(body.get("baton"))
            results: list[Json] = []
            closed = False
            for request in body.get("requests", []):
                self.requests_seen.append(request["type"])
                if request["type"] == "close":
                    stream.close()
                    closed = True
                    results.append({"type": "ok", "response": {"type": "close"}})
                    break
                try:
                    results.append({"type": "ok", "response": stream.handle(request)})
                except HranaError as exc:
                    results.append(
                        {"type": "error", "error": {"message": str(exc), "code": exc.code}}
                    )
            return {"baton": self._park(stream, closed), "base_url": None, "results": results}

    def cursor(self, body: Json) -> tuple[Json, list[Json]]:
        """``/v3/cursor``: run a batch, results as newline-delimited entries."""
        with self.lock:
            self.requests_seen.append("cursor")
            stream = self._stream(body.get("baton"))
            entries: list[Json] = []
            outcome = stream.batch(body["batch"])
            for i, (result, error) in enumerate(
                zip(outcome["step_results"], outcome["step_errors"], strict=True)
            ):
                if error is not None:
                    entries.append({"type": "step_error", "step": i, "error": error})
                elif result is not None:
                    entries.append({"type": "step_begin", "step": i, "cols": result["cols"]})
                    entries.extend({"type": "row", "row": row} for row in result["rows"])
                    entries.append(
                        {
                            "type": "step_end",
                            "affected_row_count": result["affected_row_count"],
                            "last_insert_rowid": result["last_insert_rowid"],
                        }
                    )
            head = {"baton": self._park(stream, False), "base_url": None}
            return head, entries

    def _stream(self, baton: str | None) -> Stream:
        if baton is None:
            return Stream(self.path)
        if baton in self.streams:
            return self.streams.pop(baton)
        raise HranaError("invalid baton", "STREAM_EXPIRED")

    def _park(self, stream: Stream, closed: bool) -> str | None:
        """Keep an open stream under a fresh baton (a baton is good for one request)."""
        next_baton = None
        if not closed:
            next_baton = secrets.token_urlsafe(16)
            self.streams[next_baton] = stream
        return next_baton


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HranaServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Json | str) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json" if isinstance(body, dict) else "text/plain"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        expected = f"Bearer {self.server.token}"
        return secrets.compare_digest(self.headers.get("Authorization", ""), expected)

    def do_GET(self) -> None:
        if self.path in ("/v3", "/health"):
            self._reply(200, "")
        else:
            self._reply(404, "not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if not self._authorised():
            self._reply(401, {"error": "Unauthorized: invalid or missing auth token"})
            return
        if self.path == "/v3/cursor":
            self._cursor(json.loads(raw))
            return
        if self.path != "/v3/pipeline":
            self._reply(404, {"error": f"no such endpoint {self.path}"})
            return
        try:
            body = self.server.pipeline(json.loads(raw))
        except HranaError as exc:
            self._reply(400, {"error": str(exc), "code": exc.code})
            return
        self._reply(200, body)

    def _cursor(self, body: Json) -> None:
        try:
            head, entries = self.server.cursor(body)
        except HranaError as exc:
            self._reply(400, {"error": str(exc), "code": exc.code})
            return
        data = "".join(json.dumps(x) + "\n" for x in [head, *entries]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    path, token = sys.argv[1], sys.argv[2]
    server = HranaServer(path, token)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

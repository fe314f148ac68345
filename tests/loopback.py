"""A loopback HTTP server that replays scripted responses, for connector tests.

    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=b"...", headers={"Content-Type": "application/rss+xml"})
        srv.route("/flaky", [Reply(500), Reply(200, body=b"ok")])   # one reply per request
        srv.route("/big", Reply(200, stream=lambda: (b"x" * 65536 for _ in range(3200))))
        srv.route("/slow", Reply(200, b"ok", trickle=2.0))  # status line and headers one byte every 2 s
        srv.route("/etag", Reply(200, b"...", {"ETag": '"v1"'}, conditional=True))  # 304 to If-None-Match: "v1"
        url = srv.url("/feed.xml")
        srv.requests  # (method, path_with_query, headers) seen; each also has .body

GET and POST are answered from the same routes; a POST's body is kept in ``request.body``.
A ``stream`` reply sends its chunks as they come, without ``Content-Length`` (the body ends when
the connection closes) or, with ``chunked=True``, with ``Transfer-Encoding: chunked``; the body
is never held whole, and ``reply.sent`` counts the bytes written before the client hung up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (timeouts)
    truncate_to: int | None = None  # send Content-Length of the full body but only this many bytes
    # chunks to stream instead of body; a callable returning them can answer more than once
    stream: Iterable[bytes] | Callable[[], Iterable[bytes]] | None = None
    chunked: bool = False  # stream with Transfer-Encoding: chunked (HTTP/1.1) instead of until-close
    sent: int = 0  # body bytes written so far (streams)
    trickle: float = 0.0  # send the whole answer, status line and headers included, one byte per this many seconds
    # answer a request whose If-None-Match names this reply's ETag with 304 (as a real server does)
    conditional: bool = False


class Request(tuple):
    """``(method, path_with_query, headers)``, with the request body as ``.body``."""

    def __new__(cls, method: str, path: str, headers: dict[str, str], body: bytes = b""):
        self = super().__new__(cls, (method, path, headers))
        self.body = body
        return self

    method = property(lambda self: self[0])
    path = property(lambda self: self[1])
    headers = property(lambda self: self[2])


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                outer.requests.append(Request("GET", self.path, dict(self.headers)))
                self._answer()

            def do_POST(self):
                length = self.headers.get("Content-Length") or "0"
                body = self.rfile.read(int(length)) if length.isdigit() else b""
                outer.requests.append(Request("POST", self.path, dict(self.headers), body))
                self._answer()

            def _answer(self):
                path = self.path
                replies = outer.routes.get(path) or outer.routes.get(path.split("?")[0])
                if not replies:
                    reply = Reply(404, b"not found")
                elif len(replies) > 1:
                    reply = replies.pop(0)
                else:
                    reply = replies[0]
                etag = reply.headers.get("ETag")
                if reply.conditional and etag and self.headers.get("If-None-Match") == etag:
                    reply = Reply(304, b"", {"ETag": etag})
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.trickle:
                    self._trickle(reply)
                    return
                if reply.stream is not None:
                    self._stream(reply)
                    return
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _trickle(self, reply: Reply):
                head = f"HTTP/1.0 {reply.status} X\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in {"Content-Length": str(len(reply.body)), **reply.headers}.items())
                self.close_connection = True
                try:
                    for i, byte in enumerate(head.encode("latin-1") + b"\r\n" + reply.body):
                        self.wfile.write(bytes([byte]))
                        reply.sent += 1
                        time.sleep(reply.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, reply: Reply):
                chunks = reply.stream() if callable(reply.stream) else reply.stream
                if reply.chunked:
                    self.protocol_version = "HTTP/1.1"
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in chunks:
                        if not chunk:
                            continue
                        if reply.chunked:
                            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                        else:
                            self.wfile.write(chunk)
                        reply.sent += len(chunk)
                    if reply.chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, path: str, replies: "Reply | list[Reply] | None" = None, **reply_kw) -> None:
        if replies is None:
            replies = Reply(**reply_kw)
        self.routes[path] = list(replies) if isinstance(replies, list) else [replies]

    def posted(self, path: str | None = None) -> list[bytes]:
        """Bodies of the POST requests seen (to ``path`` only, when given)."""
        return [r.body for r in self.requests
                if r.method == "POST" and (path is None or r.path.split("?")[0] == path)]

    def url(self, path: str = "/") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

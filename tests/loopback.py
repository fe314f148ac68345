"""A loopback HTTP server that replays scripted responses, for connector tests.

    with LoopbackServer() as srv:
        srv.route("/feed.xml", body=b"...", headers={"Content-Type": "application/rss+xml"})
        srv.route("/flaky", [Reply(500), Reply(200, body=b"ok")])   # one reply per request
        url = srv.url("/feed.xml")
        srv.requests  # list of (method, path_with_query, headers) seen
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (timeouts)
    truncate_to: int | None = None  # send Content-Length of the full body but only this many bytes


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                outer.requests.append(("GET", self.path, dict(self.headers)))
                path = self.path
                replies = outer.routes.get(path) or outer.routes.get(path.split("?")[0])
                if not replies:
                    reply = Reply(404, b"not found")
                elif len(replies) > 1:
                    reply = replies.pop(0)
                else:
                    reply = replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, path: str, replies: "Reply | list[Reply] | None" = None, **reply_kw) -> None:
        if replies is None:
            replies = Reply(**reply_kw)
        self.routes[path] = list(replies) if isinstance(replies, list) else [replies]

    def url(self, path: str = "/") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""A loopback HTTP server that replays recorded payloads.

Used by ``listener demo`` to serve the bundled feeds, and by the tests to play a
misbehaving web: any status, headers, a delay, ETag/Last-Modified validation,
a body cut short of its Content-Length, or one-off answers queued before the
route's own (a 429 with Retry-After, then the page). GET, HEAD and POST; every
request is logged with its arrival time and body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops SYNs when a crawl opens many
    # connections at once; the client then waits a second to retry.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (timeouts, size limits) are part of the tests.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                 # seconds to wait before answering
    etag: str | None = None            # answer 304 when If-None-Match matches
    last_modified: str | None = None   # answer 304 when If-Modified-Since matches
    truncate_at: int | None = None     # send only this many body bytes, then close
    hits: int = 0
    queue: list["Route"] = field(default_factory=list)  # served once each, in order, before this one


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int
    method: str = "GET"
    body: bytes = b""
    at: float = 0.0                    # time.monotonic() when the request arrived


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 (port 0 picks a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.routes: dict[str, Route] = {}
        self.log: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm the body
            # then waits for the client's delayed ACK (~40 ms a response on keep-alive).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                server._answer(self, head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                server._answer(self, head=True)

            def do_POST(self) -> None:  # noqa: N802
                server._answer(self, head=False)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _QuietServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes | str = b"", **kwargs: object) -> Route:
        """Serve ``body`` at ``path`` (exact path, query included if given)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        route = Route(body=body, **kwargs)  # type: ignore[arg-type]
        with self._lock:
            self.routes[path] = route
        return route

    def add_file(self, path: str, file: Path, content_type: str, validators: bool = True) -> Route:
        """Serve a file, with an ETag and Last-Modified derived from its bytes when asked."""
        body = Path(file).read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if validators else None
        modified = "Sat, 01 Jan 2022 00:00:00 GMT" if validators else None
        return self.add(path, body, headers={"Content-Type": content_type}, etag=etag,
                        last_modified=modified)

    def hits(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.log if h.path == path]

    def start(self) -> "ReplayServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="replay-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        arrived = time.monotonic()
        length = int(h.headers.get("Content-Length") or 0)
        request_body = h.rfile.read(length) if length else b""
        with self._lock:
            route = self.routes.get(h.path) or self.routes.get(urlsplit(h.path).path)
            if route is not None:
                route.hits += 1
                if route.queue:
                    route = route.queue.pop(0)
        headers = {k: v for k, v in h.headers.items()}
        if route is None:
            status, body, extra = 404, b"not found\n", {"Content-Type": "text/plain"}
        else:
            if route.delay:
                time.sleep(route.delay)
            status, body, extra = route.status, route.body, dict(route.headers)
            if route.etag:
                extra["ETag"] = route.etag
            if route.last_modified:
                extra["Last-Modified"] = route.last_modified
            inm, ims = h.headers.get("If-None-Match"), h.headers.get("If-Modified-Since")
            if status == 200 and ((route.etag and inm == route.etag) or
                                  (route.last_modified and not inm and ims == route.last_modified)):
                status, body = 304, b""
        with self._lock:
            self.log.append(Hit(h.path, headers, status, h.command, request_body, arrived))
        try:
            h.send_response(status)
            for k, v in extra.items():
                if k.lower() != "content-length":
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            if route is not None and route.truncate_at is not None:
                h.send_header("Connection", "close")
            h.end_headers()
            if not head and status != 304:
                if route is not None and route.truncate_at is not None:
                    h.wfile.write(body[: route.truncate_at])
                    h.wfile.flush()
                    h.close_connection = True
                    return
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout or size limit): nothing to do

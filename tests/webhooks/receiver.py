"""A real HTTP receiver for the webhook tests: a ThreadingHTTPServer on 127.0.0.1, port 0.

Plain context managers, so that the web tests use the same receiver as fixtures of their own.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from leadloop.webhooks import signing


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST with the next scripted status (then `default`) and records it.

    `delay` holds each answer back that many seconds; `gate`, when set, holds every answer
    until the gate is opened. `secret` makes it check the signature like a real receiver
    and answer 401 to a bad one.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[int] = deque()
        self.default = 200
        self.delay = 0.0
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()
        self.secret: str | None = None
        self.verified: list[bool] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self.url = ""

    def answer(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        received = Received(path=handler.path, headers=dict(handler.headers.items()), body=body)
        with self._lock:
            self.requests.append(received)
            status = self.script.popleft() if self.script else self.default
        self.arrived.set()
        if self.secret is not None:
            ok = signing.verify(
                self.secret,
                received.headers.get("X-Leadloop-Timestamp", ""),
                body,
                received.headers.get("X-Leadloop-Signature", ""),
            )
            self.verified.append(ok)
            if not ok:
                status = 401
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            self.closing.wait(self.delay)
        reply = b"thanks" if 200 <= status < 300 else b"receiver says no"
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)


@contextmanager
def serving() -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 at a free port; `receiver.url` is its hook URL."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/leadloop"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.closing.set()
        if state.gate is not None:
            state.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def refused_address() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/leadloop"

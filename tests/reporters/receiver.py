"""A real HTTP receiver on 127.0.0.1 for apprise's json:// URLs (in a thread, so that
subprocesses and the event loop under test can reach it)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTICE = re.compile(r"\(crosscurrent notice (\S+)\)")


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refuse = 0  # answer the next N requests with 503
        self.lock = threading.Lock()
        self.url = ""

    def notices(self) -> list[str]:
        with self.lock:
            return [m.group(1) for r in self.received
                    if (m := NOTICE.search(r.get("message", "")))]

    def keys(self, state: str = "firing") -> list[str]:
        """The alert key of each block of that state, over every message received."""
        found = []
        with self.lock:
            for message in (r.get("message", "") for r in self.received):
                for block in message.split("\n\n"):
                    if f", {state}]" in block:
                        found.append(block.splitlines()[-1].strip().split(" · ")[0])
        return found


@contextmanager
def receiver(port: int = 0, state: Receiver | None = None) -> Iterator[Receiver]:
    """A receiver on `port` (any free one by default), recording into `state` (a new one)."""
    found = state or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            payload = self.rfile.read(length)
            with found.lock:
                refuse = found.refuse > 0
                if refuse:
                    found.refuse -= 1
                else:
                    found.received.append(json.loads(payload))
            self.send_response(503 if refuse else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    found.url = f"json://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()

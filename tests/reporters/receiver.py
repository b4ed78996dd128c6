"""A real HTTP receiver on 127.0.0.1 for apprise's json:// URLs (in a thread, so that
subprocesses and the event loop under test can reach it)."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reporters.matchers import Matcher


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refuse = 0  # answer the next N requests with 503
        self.lock = threading.Lock()
        self.url = ""

    def silenced(self) -> list[str]:
        """The keys of every message's silence command, message by message."""
        with self.lock:
            return [key for message in self.received for key in reference(message)[0]]

    def refs(self) -> list[str]:
        """Every message's notice references."""
        with self.lock:
            return [ref for message in self.received for ref in reference(message)[1]]


def reference(message: dict[str, str]) -> tuple[list[str], list[str]]:
    """A received message's last line: the alert keys its silence command names (firing
    alerts, each once, in order) and the notice references."""
    *command, refs = message["message"].rsplit("\n", 1)[-1].split(" · ")
    keys: list[str] = []
    if command:
        assert command[0].startswith("Silence with: crosscurrent silence add "), command
        (target,) = shlex.split(command[0].removeprefix("Silence with: "))[3:]
        keys = list(dict(Matcher.parse(target).terms)["key"])
    word, _, ids = refs.partition(" ")
    assert word in ("ref", "refs"), refs
    return keys, ids.split()


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

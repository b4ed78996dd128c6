"""An HTTPS proxy that ends TLS itself, for simulating sources reached only over HTTPS.

Libraries such as akshare hard-code `https://` addresses. Pointed at this proxy
(`HTTPS_PROXY`) and told to trust its test CA (`REQUESTS_CA_BUNDLE`), such a client sends
`CONNECT host:443`; the proxy answers with a certificate for that host signed by the CA, and
forwards the decrypted HTTP to a local plain-HTTP simulator. Only the listed hosts are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import ssl
from pathlib import Path

import trustme

log = logging.getLogger(__name__)


class TlsProxy:
    def __init__(self, upstream: tuple[str, int], hosts: list[str]) -> None:
        self.upstream = upstream
        self.hosts = hosts
        self.ca = trustme.CA(organization_name="crosscurrent simulators")
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*hosts).configure_cert(self._context)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.tunnels = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def write_ca(self, path: Path) -> Path:
        """Write the CA certificate (PEM) that clients must trust; returns `path`."""
        self.ca.cert_pem.write_to_path(str(path))
        return path

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _allowed(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            host = target.rsplit(":", 1)[0]
            if method != "CONNECT" or not self._allowed(host):
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await writer.start_tls(self._context)
            self.tunnels += 1
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            pipes = [asyncio.ensure_future(_pipe(reader, up_writer)),
                     asyncio.ensure_future(_pipe(up_reader, writer))]
            try:  # either side closing ends the tunnel
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                up_writer.close()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as exc:
            log.debug("proxy connection ended: %s", exc)
        except asyncio.CancelledError:  # stop(): end quietly (asyncio logs a cancelled handler)
            pass
        finally:
            writer.close()  # wait_closed() can hang after start_tls(): bounded, then abort
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()

"""A Redis that requires TLS and a password (a real redis-server on 127.0.0.1): the whole
pipeline runs against it with a `rediss://` URL, and a wrong password or a plain connection
is one clear line that never shows the password."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_cli import crosscurrent

TAPE = Path(__file__).parent.parent / "data" / "quiet-day.jsonl"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, Path]]:
    """(port, password, CA file) of a TLS-only redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on PATH")
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("tls-redis")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    port, password = free_port(), secrets.token_urlsafe(12)
    server = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(folder / "cert.pem"), "--tls-key-file", str(folder / "key.pem"),
         "--tls-ca-cert-file", str(folder / "ca.pem"), "--tls-auth-clients", "no",
         "--requirepass", password, "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, password, folder / "ca.pem"
    server.terminate()
    server.wait(10)


def test_the_pipeline_runs_over_tls_with_a_password(tls_redis: tuple[int, str, Path]) -> None:
    port, password, ca = tls_redis
    url = f"rediss://:{password}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    result = crosscurrent("replay", str(TAPE), "--speed", "max", "--plain", "--redis", url,
                          timeout=180)
    assert result.returncode == 0, result.stderr
    assert "events (" in result.stdout and password not in result.stdout + result.stderr
    audited = crosscurrent("audit", "--redis", url, "--namespace", "replay")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "nothing lost" in audited.stdout


@pytest.mark.parametrize("scheme", ["wrong password", "plain redis://", "untrusted CA"])
def test_a_refused_connection_is_one_line_without_the_password(
        tls_redis: tuple[int, str, Path], scheme: str) -> None:
    port, password, ca = tls_redis
    url = {"wrong password": f"rediss://:not-{password}@127.0.0.1:{port}/0?ssl_ca_certs={ca}",
           "plain redis://": f"redis://:{password}@127.0.0.1:{port}/0",
           "untrusted CA": f"rediss://:{password}@127.0.0.1:{port}/0"}[scheme]
    result = crosscurrent("audit", "--redis", url, "--namespace", "replay", timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot reach Redis at" in result.stderr and "Traceback" not in result.stderr
    assert password not in result.stdout + result.stderr

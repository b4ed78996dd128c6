"""Ingest side by side: recorded Binance frames -> TLS websocket -> adapter -> Redis Streams.

The same frames of shared/data (USD-M futures and spot, trade and bookTicker), served by one
frame server process as fast as each client reads, to each contender in turn, in one run:

  crosscurrent fast path   the live code path: WebsocketFeed + BinanceProtocol + StreamWriter
                           (up to `redis.pack` events an entry), and the same with an entry
                           per frame, as cryptofeed writes them
  crosscurrent ccxt.pro    ccxt.pro `watch_trades` + StreamWriter (trades only)
  cryptofeed               cryptofeed 3's Binance feed with its own Redis Streams backend,
                           with `overflow='block'` (nothing dropped) and with its default
                           queue, from the bench's own environment (.bench-venv)

Each client is a process of its own; the run is timed from the first frame sent until every
frame it asked for is in Redis (or nothing more arrives for 3 s), and its CPU is the client's
own from when it was ready to connect. Also: the parser alone, in memory.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from rich.console import Console
from rich.table import Table

from bench import BenchError
from bench.frame_server import Frames, serve
from bench.ingest_client import MARKETS
from bench.targets import PARSER_FRAMES_S, VS_PEER, Verdict
from crosscurrent.config import Config
from streams.binance import BinanceProtocol
from streams.keys import Keys

RECORDINGS = {"usdm": Path("data/binance-futures/usdm-btcusdt-20240808.jsonl.gz"),
              "spot": Path("data/binance/spot-btcusdt-20240809.jsonl.gz")}
KINDS = (b"@trade", b"@bookTicker")
PEER_SCRIPT = Path(__file__).with_name("cryptofeed_client.py")
PEER_PYTHON = Path(__file__).resolve().parent.parent / ".bench-venv/bin/python"  # scripts/bench-env
CRYPTOFEED = {"usdm": ("BINANCE_FUTURES", "BTC-USDT-PERP"), "spot": ("BINANCE", "BTC-USDT")}
STALL_S = 3.0
TICKS = os.sysconf("SC_CLK_TCK")


class BenchInputError(BenchError, FileNotFoundError):
    """The recorded frames are not where they were looked for."""


def load_frames(shared: Path, market: str = "usdm") -> list[bytes]:
    path = shared / RECORDINGS[market]
    if not path.exists():
        raise BenchInputError(f"{path} is missing: pass --shared DIR (the shared/ folder)")
    with gzip.open(path, "rb") as lines:
        frames = [line.split(b" ", 1)[1].rstrip(b"\n") for line in lines]
    return [f for f in frames if f.startswith(b'{"stream"') and any(k in f[:40] for k in KINDS)]


def parse_rate(frames: list[bytes]) -> float:
    proto = BinanceProtocol("ws://x", ["perp:BTC"], source="binance-usdm")
    started = time.process_time()
    for frame in frames:
        proto.parse(frame, 0)
    return len(frames) / (time.process_time() - started)


@dataclass(frozen=True)
class Contender:
    name: str
    streams: tuple[str, ...]  # what it subscribes to (for the count it must land)
    command: tuple[str, ...]
    keys: tuple[str, ...]  # the Redis streams it writes
    stats: str | None = None  # ours: the counters of the events each stream was added
    judged: bool = False  # the contender the target is for (our fast path)


@dataclass
class Result:
    contender: Contender
    sent: int
    landed: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # frames/s, one per round
    cpu: list[float] = field(default_factory=list)  # CPU s per 100k frames

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def lost(self) -> int:
        return self.sent - min(self.landed)


def contenders(market: str, port: int, url: str, config: Config, cafile: str,
               peer_python: Path | None) -> list[Contender]:
    spec = MARKETS[market]
    symbol = "btcusdt"
    ours = (sys.executable, "-m", "bench.ingest_client", "--market", market,
            "--url", f"wss://127.0.0.1:{port}", "--redis", url, "--cafile", cafile)
    out = []
    for name, path, streams, label, options in (
            ("fast", "fast", ("trade", "bookTicker"), "fast path", ()),
            ("fast-pack1", "fast", ("trade", "bookTicker"), "fast path, an entry per frame",
             ("--pack", "1")),
            ("ccxt", "ccxt", ("trade",), "ccxt.pro (trades)", ())):
        keys = Keys(config.redis.prefix, f"bench-ingest-{name}")
        out.append(Contender(
            f"crosscurrent {label}", tuple(f"{symbol}@{s}" for s in streams),
            (*ours, "--namespace", keys.namespace, path, *options),
            (keys.events(spec.family), keys.quotes(spec.family)), keys.stats,
            judged=name == "fast"))
    if peer_python is not None:
        exchange, pair = CRYPTOFEED[market]
        for overflow, label in (("block", "overflow='block'"), ("", "default queue")):
            key = f"bench-cryptofeed-{overflow or 'default'}"
            command = [str(peer_python), str(PEER_SCRIPT), "--market", market,
                       "--ws", f"wss://127.0.0.1:{port}", "--rest", f"https://127.0.0.1:{port}",
                       "--redis", url, "--key", key]
            if overflow:
                command += ["--overflow", overflow]
            out.append(Contender(
                f"cryptofeed ({label})", (f"{symbol}@aggTrade", f"{symbol}@bookTicker"),
                tuple(command),
                (f"{key}-trades-{exchange}-{pair}", f"{key}-ticker-{exchange}-{pair}")))
    return out


@contextmanager
def frame_server(frames: list[bytes], source: str, certfile: str
                 ) -> Iterator[tuple[int, multiprocessing.Queue[float]]]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    starts: multiprocessing.Queue[float] = context.Queue()
    server = context.Process(target=serve, args=(frames, source, certfile, send, starts),
                             daemon=True)
    server.start()
    try:
        if not receive.poll(60):
            raise RuntimeError("the frame server did not start within 60 s")
        yield receive.recv(), starts
    finally:
        server.terminate()
        server.join(5)


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _landed(client: redis.Redis, contender: Contender) -> int:
    """Events in its streams: ours counts them (an entry holds several), the peer's hold
    one an entry."""
    if contender.stats is not None:
        counted = client.hmget(contender.stats, [f"bus.{k}.added" for k in contender.keys])
        return sum(int(n or 0) for n in counted)
    pipe = client.pipeline(transaction=False)
    for key in contender.keys:
        pipe.xlen(key)
    return sum(pipe.execute())


def measure(contender: Contender, sent: int, client: redis.Redis,
            starts: multiprocessing.Queue[float], cafile: str) -> tuple[int, float, float]:
    """One run: (frames landed, frames/s, client CPU s per 100k frames)."""
    client.delete(*contender.keys)
    if contender.stats is not None:
        client.delete(contender.stats)
    while not starts.empty():
        starts.get_nowait()
    env = dict(os.environ, SSL_CERT_FILE=cafile, REQUESTS_CA_BUNDLE=cafile,
               XDG_CACHE_HOME=tempfile.gettempdir())
    process = subprocess.Popen(contender.command, stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"{contender.name} did not start (exit {process.wait(10)})")
        ready_cpu = float(line.split()[1])
        first = starts.get(timeout=60)
        landed, last_change = 0, time.time()
        while landed < sent and time.time() - last_change < STALL_S:
            time.sleep(0.01)
            now = _landed(client, contender)
            if now != landed:
                landed, last_change = now, time.time()
        cpu = _cpu_of(process.pid) - ready_cpu
        while not starts.empty():  # a second connection (cryptofeed's USD-M routes)
            first = min(first, starts.get_nowait())
        wall = last_change - first
        return landed, sent / wall if landed >= sent else landed / wall, cpu / sent * 1e5
    finally:
        process.terminate()
        process.wait(10)


def _certificate(folder: Path) -> tuple[str, str]:
    """A test CA and a 127.0.0.1 server certificate (trustme): (CA file, cert+key file)."""
    try:
        import trustme
    except ImportError:
        raise BenchInputError("the ingest bench serves TLS with trustme: install it with "
                              "`bash scripts/setup embedded,cn`") from None
    ca = trustme.CA()
    cafile, certfile = folder / "ca.pem", folder / "server.pem"
    ca.cert_pem.write_to_path(str(cafile))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    return str(cafile), str(certfile)


def run_market(market: str, frames: list[bytes], config: Config, url: str, rounds: int,
               peer_python: Path | None, console: Console) -> list[Result]:
    indexed = Frames(frames)
    client = redis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as folder:
        cafile, certfile = _certificate(Path(folder))
        with frame_server(frames, MARKETS[market].source, certfile) as (port, starts):
            results = [Result(c, indexed.count(list(c.streams)))
                       for c in contenders(market, port, url, config, cafile, peer_python)]
            for n in range(rounds):
                for result in results:
                    landed, rate, cpu = measure(result.contender, result.sent, client, starts,
                                                cafile)
                    result.landed.append(landed)
                    result.rates.append(rate)
                    result.cpu.append(cpu)
                    console.print(f"  {market} round {n + 1}: {result.contender.name}: "
                                  f"{landed}/{result.sent} landed, {rate:,.0f} frames/s, "
                                  f"{cpu:.2f} CPU s per 100k", highlight=False)
    client.close()
    return results


def table(market: str, results: list[Result]) -> Table:
    peer = next((r for r in results if "block" in r.contender.name), None)
    out = Table(title=f"ingest side by side: Binance {market} recording, median of "
                      f"{len(results[0].rates)}", title_justify="left")
    for column in ("contender", "frames/s into Redis", "CPU s per 100k", "landed / sent",
                   "vs cryptofeed (block)"):
        out.add_column(column, justify="left" if column == "contender" else "right")
    for r in results:
        ratio = f"{r.rate / peer.rate:.2f}×" if peer else "n/a"
        out.add_row(r.contender.name, f"{r.rate:,.0f}",
                    f"{statistics.median(r.cpu):.2f}", f"{min(r.landed):,} / {r.sent:,}", ratio)
    return out


def run_ingest(config: Config, url: str, shared: Path, console: Console, rounds: int = 3,
               markets: tuple[str, ...] = ("usdm", "spot"), frames_cap: int | None = None,
               peer_python: Path | None = PEER_PYTHON) -> list[str | Verdict]:
    """The parser alone, then every contender on each market's frames (the first
    `frames_cap` of them, if given); the summary lines."""
    loaded = {m: load_frames(shared, m)[:frames_cap] for m in markets}
    frames = loaded.get("usdm") or next(iter(loaded.values()))
    parsed = parse_rate(frames)
    summary: list[str | Verdict] = [Verdict("parser alone, on one core", parsed,
                                            PARSER_FRAMES_S, "frames/s")]
    if peer_python is not None and not peer_python.exists():
        console.print(f"[yellow]cryptofeed is not installed ({peer_python} is missing): "
                      "`bash scripts/bench` installs it; measuring crosscurrent alone")
        peer_python = None
    for market in markets:
        results = run_market(market, loaded[market], config, url, rounds, peer_python, console)
        console.print(table(market, results))
        console.print("  cryptofeed asks for @aggTrade: it gets each recorded trade as a "
                      "one-trade aggTrade frame, so the same trades; ccxt.pro follows trades "
                      "only", highlight=False)
        peer = next((r for r in results if "block" in r.contender.name), None)
        for r in results:
            measured = (f"ingest {market} {r.contender.name}: {r.rate:,.0f} frames/s, "
                        f"{statistics.median(r.cpu):.2f} CPU s per 100k frames, "
                        f"{r.lost} lost of {r.sent}")
            if peer and r.contender.judged:
                summary.append(Verdict(
                    f"ingest {market} vs cryptofeed's no-loss backend", r.rate / peer.rate,
                    VS_PEER, "×", condition="0 lost", also=r.lost == 0,
                    detail=f"{r.contender.name}: {r.rate:,.0f} frames/s, "
                    f"{statistics.median(r.cpu):.2f} CPU s per 100k frames, {r.lost} lost of "
                    f"{r.sent}; cryptofeed (block) {peer.rate:,.0f} frames/s"))
            else:
                ratio = f", {r.rate / peer.rate:.2f}× cryptofeed (block)" if peer else ""
                summary.append(measured + ratio)
    return summary

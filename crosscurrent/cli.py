"""The `crosscurrent` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import OutOfMemoryError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from crosscurrent import __version__
from crosscurrent.backtest_command import (
    add_backtest_parser,
    run_backtest_command,
)
from crosscurrent.bars import DailyBar
from crosscurrent.catalog import UnknownIdError, default_catalog
from crosscurrent.config import Config, ConfigError, default_config_text, load_config
from crosscurrent.init_command import add_init_parser, run_init_command
from crosscurrent.loop import LoopUnavailableError, use_loop
from crosscurrent.screen import Bar, Screen
from crosscurrent.user_errors import UserError, writable
from crosscurrent.watchlist_command import (
    add_watchlist_parser,
    default_config_path,
    run_watchlist_command,
)
from reporters.silences import parse_duration
from streams.owner import NamespaceBusyError
from streams.redis_client import URL_FORMS, BusUnavailableError, check_url
from streams.redis_server import (
    DataDirBusyError,
    RedisNotFoundError,
    RedisStartError,
    default_data_dir,
)
from streams.tape import TapeError, read_tape

if TYPE_CHECKING:
    from bench.targets import Verdict

T = TypeVar("T")
DEMO_TAPE = "data/seed-2026-04-08.jsonl"
SHARED_GUESS = Path(__file__).resolve().parent.parent.parent / "shared"
# The parts that measure this process run before `ingest`, which measures client processes
# but leaves this one's memory in a state that slows what runs after it (agents: -8%).
BENCH_PARTS = ("agents", "latency", "spine", "report", "dashboard", "backtest", "ingest",
               "memory", "scale")
BENCH_DEFAULT = BENCH_PARTS[:-2]  # the soak and the scale-out only when asked for
BENCH_HELP = """\
Each part prints its figures; the run ends with one summary line per figure (a figure with
a target ends with it and a verdict: "target ≥ 2× with 0 lost: met", or "NOT met"), and four
gauges of the machine: the speed of a Python loop, of a round trip to Redis and the CPU a
process spends only to be woken for each of 10,000 messages a second, before and after the
parts (figures per core and latencies follow them on a shared VM), and the share of its CPU
time the host took for others meanwhile (steal, one cause of a latency tail).

  ingest     the recorded Binance USD-M and spot frames of shared/data into Redis Streams
             over TLS, side by side in one run: crosscurrent's fast adapter, its ccxt.pro
             path and cryptofeed with its own Redis backend (frames/s, CPU, loss);
             `bash scripts/bench` installs cryptofeed into .bench-venv
  agents     the agent from Redis through every detector: a backlog, entries of 10 under
             load (adaptive batching), strictly one entry of 10 a round trip, and a CPU-time
             profile of the last (events per CPU second)
  latency    tick-to-alert at fixed offered loads, the exchange simulator in its own process;
             targets: p99 ≤ 5 ms at 10k/s, ≤ 25 ms at 50k/s with the backlog flat
  spine      everything in one process, as fast as it goes
  report     the end-of-day report of a full day
  dashboard  its CPU at 10,000 events/s
  backtest   the detectors over the real daily bars of shared/data/history: alerts per
             trading day against the calibration targets, and the time the whole window takes
  memory     (only when asked for) RSS and Redis memory over a soak
  scale      (only when asked for) the Faust engine with 1, 2 and 4 workers on a mock
             Kafka cluster (events/s), and its table state per instrument"""

EPILOG = """\
examples:
  crosscurrent demo                         replay the shipped 2026-04-08 session (~30 s)
  crosscurrent replay day.jsonl --speed max --out out/
  crosscurrent run --redis redis://127.0.0.1:6379/0
  crosscurrent doctor                       is Redis up, does every source flow?
  crosscurrent audit                        every stage counted, and any loss
  crosscurrent worker --engine faust --redis URL   detectors on Kafka (see run --bus kafka)
  crosscurrent record --out day.jsonl.gz --minutes 60
  crosscurrent bench --only ingest
  crosscurrent backtest ../shared/data/history --from 2013-01-01 --to 2013-12-31
  crosscurrent watchlist add SOL/USDT NVDA  your own symbols, followed everywhere
  crosscurrent watch                        the dashboard of the pipeline written last
  crosscurrent catalog                      the canonical ids and their sources
  crosscurrent config > my.yaml             the documented default config, to edit
  crosscurrent replay day.jsonl --notify json://127.0.0.1:8080/hook
  crosscurrent alerts tail | grep critical  live alerts as plain lines
  crosscurrent silence add 'detector=divergence ids=hk:*' --for 2h --comment 'HK holiday'

Redis: without --redis or CROSSCURRENT_REDIS_URL a private redis-server is started
(AOF on, unix socket, random password) with its data under --data-dir, and stopped on exit;
a second crosscurrent on the same --data-dir uses that one. `COMMAND --help` says more.
"""


def _speed(text: str) -> float:
    if text == "max":
        return math.inf
    value = _positive(text.rstrip("x"))
    if value < 1e-3:
        raise argparse.ArgumentTypeError(f"speed must be at least 0.001 (tape seconds per "
                                         f"second) or 'max', got {text!r}")
    return value


def _positive(text: str) -> float:
    """A finite number above zero (seconds, minutes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def _count(text: str) -> int:
    """A whole number of at least 1 (frames, rounds, events)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _examples(*lines: tuple[str, str]) -> dict[str, Any]:
    """A subcommand's epilog: a command line and what it does, a line each."""
    width = max(len(command) for command, _ in lines)
    text = "\n".join(f"  {command:<{width}}  {what}".rstrip() for command, what in lines)
    return {"epilog": f"example{'s' if len(lines) > 1 else ''}:\n{text}\n",
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosscurrent",
        description="Real-time cross-market monitor: feeds -> Redis Streams -> detector "
        "agents -> alerts.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crosscurrent {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="FILE",
                        help="YAML config overlaid on the defaults (see `crosscurrent config`)")
    common.add_argument("--redis", metavar="URL",
                        help="use this Redis (redis://, rediss://, unix://) instead of an "
                        "embedded one")
    common.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="data directory of the embedded redis-server")
    common.add_argument("-v", "--verbose", action="store_true", help="log more")
    notifying = argparse.ArgumentParser(add_help=False)
    notifying.add_argument(
        "--notify", action="append", default=[], metavar="APPRISE_URL",
        help="also send every alert here (repeatable): any apprise URL, e.g. "
        "json://127.0.0.1:8080/hook, ntfy://topic, tgram://TOKEN/CHAT; or env:VAR / file:PATH "
        "that holds one, to keep the secret off the command line")
    namespaced = argparse.ArgumentParser(add_help=False)
    namespaced.add_argument("--namespace",
                            help="the pipeline's namespace (default: the one written last on "
                            "that Redis, by run, demo or replay, else live)")
    viewing = argparse.ArgumentParser(add_help=False)
    viewing.add_argument("--lang", choices=["en", "zh", "both"], default="both",
                         help="names and texts in English, Chinese or both (default)")
    viewing.add_argument("--plain", action="store_true",
                         help="alert lines instead of the dashboard (the default when stdout "
                         "is not a terminal)")
    viewing.add_argument("--no-color", action="store_true", help="no colours")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common, notifying, viewing],
                          help="replay the shipped 2026-04-08 session",
                          description="Replay the shipped tape of 2026-04-08 through the local "
                          "simulator of every source, the real adapters, Redis Streams and the "
                          "detector agents, printing alerts as they fire.",
                          **_examples(("crosscurrent demo", "the dashboard, then the report "
                                       "in ./demo-out"),
                                      ("crosscurrent demo --plain --lang en",
                                       "alert lines in English"),
                                      ("crosscurrent demo --speed max --out /tmp/day",
                                       "as fast as it goes")))
    demo.add_argument("--speed", type=_speed, metavar="N|max",
                      help="tape seconds per second (default: demo.speed, 3600: about 25 s)")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                      help="where alerts.jsonl and the report go (default: ./demo-out)")

    rep = sub.add_parser("replay", parents=[common, notifying, viewing],
                         help="replay a tape through the pipeline",
                         description="Replay a tape (JSON Lines, see shared/spec/tape.md) "
                         "through the simulators, adapters, bus and agents.",
                         **_examples(("crosscurrent replay day.jsonl.gz --out out/",
                                      "alerts and the report of a recorded day"),
                                     ("crosscurrent replay day.jsonl --speed 60 --notify "
                                      "json://127.0.0.1:8080/hook", "a minute a second, with "
                                      "notifications")))
    rep.add_argument("tape", type=Path, help="the tape: .jsonl or .jsonl.gz")
    rep.add_argument("--speed", type=_speed, default=math.inf, metavar="N|max",
                     help="tape seconds per second; 'max' (default) as fast as it is taken")
    rep.add_argument("--out", type=Path, metavar="DIR",
                     help="write DIR/alerts.jsonl and the report (report.md, .html, .json)")

    run = sub.add_parser("run", parents=[common, notifying, viewing],
                         help="follow the watchlist live",
                         description="Connect to the real sources of the watchlist and run the "
                         "agents until Ctrl-C (needs the internet for the feeds).",
                         **_examples(("crosscurrent run", "the dashboard, embedded Redis"),
                                     ("crosscurrent run --redis redis://127.0.0.1:6379/0 "
                                      "--plain", "a shared Redis, alert lines"),
                                     ("crosscurrent run --only feeds", "feeds here, agents "
                                      "in `worker` processes")))
    run.add_argument("--only", choices=["feeds", "agents"],
                     help="run only the feeds or only the agents (to scale them apart)")
    run.add_argument("--namespace", default="live",
                     help="key namespace, to keep pipelines apart (default: live)")
    run.add_argument("--bus", choices=["redis", "kafka"], default="redis",
                     help="kafka: market events also go to Kafka (kafka.broker), keyed by id, "
                     "and the detectors run there in `worker --engine faust` processes "
                     "(default: redis, detectors in this process)")

    worker = sub.add_parser(
        "worker", parents=[common, namespaced], help="run the detector agents only",
        description="Run the detector agents of a pipeline whose feeds run elsewhere. "
        "embedded: the Redis Streams consumer group (`run --only agents`). faust: Faust "
        "agents on Kafka, for `run --bus kafka`; start as many as the events topic has "
        "partitions to spread (kafka.partitions), each on any machine that reaches the "
        "broker and the shared Redis, where their alerts go. SIGTERM stops one cleanly; "
        "if one dies, the others take its partitions, with their state.",
        epilog="example:\n  crosscurrent run --bus kafka --redis redis://cache:6379/0 &\n"
        "  crosscurrent worker --engine faust --redis redis://cache:6379/0 "
        "--broker kafka://kafka:9092\n", formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--engine", choices=["embedded", "faust"], default="faust",
                        help="where the detectors run (default: faust)")
    worker.add_argument("--broker", metavar="URL",
                        help="Kafka's address for faust, kafka://host:port (default: "
                        "kafka.broker of the config)")
    worker.add_argument("--instance-id", metavar="NAME",
                        help="faust: a name unique to this worker, kept across its restarts "
                        "(Kafka static membership: a worker back within "
                        "kafka.session_timeout_s gets its partitions without a rebalance)")

    rec = sub.add_parser("record", parents=[common], help="record the live feeds as a tape",
                         description="Follow the watchlist (and the ccxt entries) live and write "
                         "what arrives as a tape, to replay the day later. Ctrl-C stops.",
                         **_examples(("crosscurrent record --out day.jsonl.gz --minutes 60",
                                      "an hour, compressed"),
                                     ("crosscurrent replay day.jsonl.gz",
                                      "then replay it")))
    rec.add_argument("--out", type=Path, required=True, metavar="TAPE",
                     help="the tape to write (.jsonl, or .jsonl.gz to compress)")
    rec.add_argument("--minutes", type=_positive, metavar="N", help="stop after N minutes")

    bench = sub.add_parser(
        "bench", parents=[common], help="measure ingest, detection, memory and the report",
        description=BENCH_HELP,
        epilog="examples:\n  bash scripts/bench                      everything but the soak\n"
        "  bash scripts/bench --only ingest        the side-by-side table\n"
        "  bash scripts/bench --only ingest --frames 10000 --rounds 1   a quick look at it\n"
        "  crosscurrent bench --only memory --minutes 30\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--only", default=",".join(BENCH_DEFAULT), metavar="PART[,PART]",
                       help=f"parts to run, of {', '.join(BENCH_PARTS)} (default: all but "
                       "memory)")
    bench.add_argument("--shared", type=Path, default=SHARED_GUESS, metavar="DIR",
                       help="the shared/ folder with the recordings (default: beside the "
                       "checkout)")
    bench.add_argument("--rounds", type=_count, default=3, metavar="N",
                       help="ingest, agents and latency: runs of each (default 3): ingest and "
                       "agents show the median, latency the percentiles over every run")
    bench.add_argument("--markets", default="usdm,spot", metavar="M[,M]",
                       help="ingest: the recordings to serve (default usdm,spot)")
    bench.add_argument("--frames", type=_count, default=None, metavar="N",
                       help="ingest: serve only the first N frames of each recording, for a "
                       "quick look (default: all of them)")
    bench.add_argument("--events", type=_count, default=100_000, metavar="N",
                       help="agents, spine and scale: events in the run (default 100000; "
                       "fewer weigh the start-up more)")
    bench.add_argument("--rates", default="1000,10000,50000", metavar="R[,R]",
                       help="latency: offered events/s into the bus (default 1000,10000,50000)")
    bench.add_argument("--seconds", type=_positive, default=5, metavar="S",
                       help="latency: length of each load (default 5)")
    bench.add_argument("--minutes", type=_positive, default=30, metavar="M",
                       help="memory: length of the soak (default 30)")
    bench.add_argument("--soak-rate", type=_positive, default=10_000, metavar="R",
                       help="memory: events/s during the soak (default 10000)")

    doctor = sub.add_parser(
        "doctor", parents=[common], help="check Redis, the config and each source",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="One verdict a line: the config, Redis (reachable, version, AOF), then "
        "each source of the watchlist (each connection, where a source has several), followed "
        "live for a few seconds: where it connected, what flowed, and what stayed silent or "
        "was refused, and why. Exits 1 if any check fails.",
        epilog="example:\n  crosscurrent doctor --config live.yaml --listen 20\n"
        "  FAIL  binance-usdm   wss://fstream.binance.com/stream: 40 frames in 20s "
        "(btcusdt@trade); silent: btcusdt@ticker, btcusdt@markPrice@1s: on the legacy root, "
        "... set sources.binance_usdm.layout: category")
    doctor.add_argument("--listen", type=_positive, default=10, metavar="S",
                        help="how long to follow the feeds before judging (default 10 s)")
    sub.add_parser("feeds", parents=[common, namespaced],
                   help="configured sources and their state",
                   description="Each configured source with its latest status on the "
                   "bus of a pipeline (its --redis, or the embedded Redis of "
                   "--data-dir).",
                   **_examples(("crosscurrent feeds", "the pipeline written last"),
                               ("crosscurrent feeds --namespace live | grep -v ok",
                                "the live one's sources that are not ok")))
    audit = sub.add_parser("audit", parents=[common, namespaced],
                   help="count every stage and report loss",
                   description="Events in and out of every stage of a pipeline (its "
                   "--redis, or the embedded Redis of --data-dir): frames each feed "
                   "received, entries added to each stream, read, acknowledged, "
                   "pending (and stuck) and not yet delivered for each consumer group, "
                   "alerts raised against the alerts stream; on a replay, the frames each "
                   "simulator sent. Cumulative since the namespace began. Exits 1 if "
                   "anything is unaccounted for or stuck.",
                   epilog="examples:\n  crosscurrent audit              everything, "
                   "reconciled\n  crosscurrent audit --since 2h   the last two hours\n"
                   "  crosscurrent audit --since 2026-04-08T13:00 --until 2026-04-08T14:00\n",
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    audit.add_argument("--since", metavar="WHEN",
                       help="count only from WHEN: a duration before now (90m, 2h, 1d) or a "
                       "date-time (UTC unless it gives its offset); by whole minutes, kept 8 "
                       "days; stages are then not reconciled against each other, but alerts")
    audit.add_argument("--until", metavar="WHEN", help="with --since: up to WHEN (default now)")
    audit.add_argument("--stuck-after", type=_positive, default=60, metavar="S",
                       help="a pending entry idle this long counts as stuck (default 60 s)")
    history = sub.add_parser("history", parents=[common, namespaced], help="daily bars of an id",
                             description="The daily bars a pipeline keeps: in its --redis, or "
                             "in the embedded Redis of --data-dir (running or not).",
                             **_examples(("crosscurrent history show hk:HSI --days 10",
                                          "the last ten sessions"),
                                         ("crosscurrent history backfill", "fetch the "
                                          "watchlist's missing days")))
    history.add_argument("action", choices=["show", "backfill"],
                         help="show: print an id's bars; backfill: fetch the missing days of "
                         "the given ids (default: the watchlist) from their sources")
    history.add_argument("ids", nargs="*", metavar="ID", help="canonical ids, e.g. hk:HSI")
    history.add_argument("--days", type=_count, default=30, metavar="N",
                         help="the newest N sessions (default 30)")
    sub.add_parser("watch", parents=[common, namespaced, viewing],
                   help="the live dashboard of a running pipeline",
                   description="Attach to a running pipeline through Redis (its "
                   "--redis, or the embedded Redis of --data-dir) and show the live "
                   "dashboard; read-only, any number of viewers. q quits, p pauses.",
                   **_examples(("crosscurrent watch", "the pipeline written last"),
                               ("crosscurrent watch --redis redis://host:6379/0 --lang en",
                                "another machine's")))
    alerts = sub.add_parser("alerts", parents=[common, namespaced], help="tail or list the alerts",
                            description="The alerts of a pipeline (its --redis, or the "
                            "embedded Redis of --data-dir): `tail` follows new ones as plain "
                            "lines (pipe-friendly), `list` prints those already raised.",
                            **_examples(("crosscurrent alerts list --since 2h", "the last two "
                                         "hours of event time"),
                                        ("crosscurrent alerts tail --severity critical",
                                         "follow the critical ones"),
                                        ("crosscurrent alerts tail --json | jq .title",
                                         "as JSON")))
    alerts.add_argument("action", choices=["tail", "list"])
    alerts.add_argument("--since", metavar="DURATION",
                        help="list: only the last DURATION of event time (e.g. 2h, 30m)")
    alerts.add_argument("--severity", choices=["info", "warning", "critical"],
                        help="only this severity and above")
    alerts.add_argument("--json", action="store_true", help="one JSON object a line")
    notify = sub.add_parser("notify", parents=[common, notifying],
                            help="send a test notification",
                            description="`notify test RECEIVER`: send a test notice to a "
                            "receiver of the config (by name), or to --notify URLs.",
                            **_examples(("crosscurrent notify test phone", "the config's "
                                         "receiver named phone"),
                                        ("crosscurrent notify test --notify ntfy://my-topic",
                                         "any apprise URL")))
    notify.add_argument("action", choices=["test"])
    notify.add_argument("receiver", nargs="?", help="a receiver name of the config")
    silence = sub.add_parser("silence", parents=[common, namespaced],
                             help="mute notifications for a while",
                             description="add MATCHERS --for 2h: mute alerts that match, e.g. "
                             "'detector=divergence ids=hk:*' (fields: detector, severity, ids, "
                             "key, tags, state; values take wildcards and commas); list; "
                             "expire ID.",
                             **_examples(("crosscurrent silence add 'ids=hk:*' --for 2h "
                                          "--comment 'HK holiday'", "mute Hong Kong"),
                                         ("crosscurrent silence list", "the silences and "
                                          "their ids"),
                                         ("crosscurrent silence expire ID", "end one now")))
    silence.add_argument("action", choices=["add", "list", "expire"])
    silence.add_argument("target", nargs="?", help="add: the matchers; expire: the silence id")
    silence.add_argument("--for", dest="duration", default="1h", metavar="DURATION",
                         help="how long (default 1h)")
    silence.add_argument("--comment", default="", help="why")
    report = sub.add_parser("report", parents=[common, namespaced],
                            help="write the end-of-day report",
                            description="Write report.md, report.html (self-contained, with "
                            "charts) and report.json from the state a pipeline keeps in Redis "
                            "(its --redis, or the embedded Redis of --data-dir): by default "
                            "the namespace written last, so after a demo or replay, theirs.",
                            **_examples(("crosscurrent report --out today/", "the day of the "
                                         "latest event"),
                                        ("crosscurrent report --date 2026-04-08 --lang en",
                                         "a given day, in English")))
    report.add_argument("--out", type=Path, default=Path("report"), metavar="DIR",
                        help="where the files go (default: ./report)")
    report.add_argument("--lang", choices=["en", "zh", "both"], default="both",
                        help="language of the texts (default: both)")
    report.add_argument("--date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="the day to report (default: the day of the latest event)")
    add_backtest_parser(sub)
    add_watchlist_parser(sub)
    add_init_parser(sub)
    sub.add_parser("catalog", help="list the canonical instrument ids",
                   description="Every canonical id: name, source, symbol and calendar; whole "
                   "plain lines when piped.",
                   **_examples(("crosscurrent catalog | grep hk:", "Hong Kong's")))
    sub.add_parser("config", help="print the documented default config",
                   description="The default config, every key explained; a config file "
                   "(--config, or the one `crosscurrent init` writes) overlays it.",
                   **_examples(("crosscurrent config > my.yaml", "to edit"),
                               ("crosscurrent demo --config my.yaml", "then use it")))
    completion = sub.add_parser(
        "completion", help="print a shell completion script",
        description="A completion script for bash, zsh or tcsh: commands, options, choices "
        "and file names complete on TAB.",
        **_examples(("crosscurrent completion bash > ~/.local/share/bash-completion/"
                     "completions/crosscurrent", "bash, from the next shell on"),
                    ("crosscurrent completion zsh > \"${fpath[1]}/_crosscurrent\"", "zsh")))
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=False, soft_wrap=not sys.stdout.isatty())  # piped: whole lines
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(message)s", handlers=[_log_handler()])
    try:
        code = _dispatch(args, console)
        sys.stdout.flush()  # here, where a closed pipe is caught
        return code
    except (UserError, ConfigError, TapeError, BusUnavailableError, RedisNotFoundError,
            RedisStartError, DataDirBusyError, UnknownIdError, LoopUnavailableError,
            NamespaceBusyError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `| head` read what it wanted: no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OutOfMemoryError as exc:  # anywhere: starting groups, the lock, a write
        _error(f"Redis refused a write: {exc} Nothing of the refused batch was stored; free "
               "memory in that Redis or raise its maxmemory, then run again")
        return 1
    except TimeoutError as exc:  # a stage that stopped taking work (the warnings say why)
        _error(f"{exc}; see the warnings above for why (is Redis refusing writes?)")
        return 1


def _log_handler() -> logging.Handler:
    """Rich's on a terminal; piped, plain lines that are never wrapped (one line a record)."""
    if sys.stderr.isatty():
        return RichHandler(console=Console(stderr=True), show_path=False, markup=False,
                           log_time_format="%H:%M:%S")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                           "%H:%M:%S"))
    return handler


def _error(text: str) -> None:
    Console(stderr=True).print(f"[bold red]crosscurrent: error:[/] {escape(text)}",
                               highlight=False, soft_wrap=True)


def _config_file(args: argparse.Namespace) -> Path | None:
    """--config, else the user's own config file where there is one (`init` and `watchlist
    add` make it)."""
    own = default_config_path()
    return args.config or (own if own.is_file() else None)


def _config(args: argparse.Namespace) -> Config:
    """The config file in use (`_config_file`) overlaid on the defaults."""
    config = load_config(_config_file(args))
    if getattr(args, "redis", None) is not None:  # backtest has no --redis
        if not args.redis.strip():
            raise UserError(f"--redis is empty: give {URL_FORMS}, or leave --redis out to use "
                            "an embedded redis-server")
        config = config.model_copy(update={"redis": config.redis.model_copy(
            update={"url": check_url(args.redis)})})
    return config


def _notifies(args: argparse.Namespace) -> bool:
    """Whether the command sends alerts to the receivers (of the config, and --notify)."""
    if args.command == "worker":
        return bool(args.engine == "embedded")
    return args.command in ("demo", "replay") or (args.command == "run" and args.only != "feeds")


def _paths_completed(parser: argparse.ArgumentParser, shtab: Any) -> argparse.ArgumentParser:
    """`parser`, its file and directory arguments (of type Path) completed as such."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _paths_completed(child, shtab)
        elif action.type is Path:
            folder = str(action.metavar or "").endswith("DIR")
            action.complete = shtab.DIRECTORY if folder else shtab.FILE  # type: ignore[attr-defined]
    return parser


def _with_receivers(args: argparse.Namespace, config: Config) -> Config:
    """The config with the --notify URLs as one more receiver (in the command's --lang),
    every receiver read before the command starts: one line if one cannot be."""
    from reporters.notifier import ReceiverError, check_receivers, with_cli_receivers

    if not _notifies(args):
        return config
    try:
        notify = with_cli_receivers(config.notify, getattr(args, "notify", ()),
                                    getattr(args, "lang", "both"))
        check_receivers(notify)
    except ReceiverError as exc:
        raise UserError(str(exc)) from None
    args.notify = []  # in the config now
    return config.model_copy(update={"notify": notify})


def _dispatch(args: argparse.Namespace, console: Console) -> int:
    if args.command == "catalog":  # piped (`| grep`): whole lines
        Screen(console, not console.is_terminal).table(
            "the catalog's canonical ids", ("id", "name", "中文", "source", "symbol", "calendar"),
            [(i.id, i.en, i.zh, i.source, i.symbol, i.calendar.tz) for i in default_catalog()])
        return 0
    if args.command == "config":
        sys.stdout.write(default_config_text())
        return 0
    if args.command == "completion":
        import shtab  # a static script from this very parser

        sys.stdout.write(shtab.complete(_paths_completed(build_parser(), shtab),
                                        shell=args.shell))
        return 0
    if args.command == "init":  # writes the file the other commands read
        return run_init_command(args, console)
    if args.command == "watchlist":  # before the config loads: it may make the file
        code = run_watchlist_command(args, console)
        if code == 0 and args.backfill:
            _backfill_added(args, console)
        return code
    handlers = {"demo": _replay, "replay": _replay, "run": _run, "record": _record,
                "bench": _bench, "doctor": _doctor, "feeds": _feeds, "history": _history,
                "alerts": _alerts, "notify": _notify, "silence": _silence, "report": _report,
                "watch": _watch, "audit": _audit, "worker": _worker,
                "backtest": run_backtest_command}
    config = _with_receivers(args, _config(args))
    use_loop(config.loop)
    return handlers[args.command](args, config, console)


def _record(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.app import record

    seconds = None if args.minutes is None else args.minutes * 60
    if args.out.is_dir():
        raise UserError(f"--out {args.out} is a directory: give the tape's file name")
    writable(args.out.parent, "--out")
    console.print(f"recording {len(config.watchlist)} ids to {args.out}; Ctrl-C stops",
                  highlight=False)
    try:
        lines = asyncio.run(record(config, args.out, seconds))
    except KeyboardInterrupt:
        console.print(f"stopped; {args.out} is complete", highlight=False)
        return 130
    console.print(f"wrote {lines} events to {args.out}", highlight=False)
    return 0


def _history(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.app import backfill
    from reporters.history_table import history_view
    from streams.backfill import Outcome
    from streams.history import HistoryStore
    from streams.keys import Keys

    instruments = [default_catalog()[i] for i in args.ids]  # unknown ids: one-line errors
    if args.action == "show" and len(args.ids) != 1:
        raise UserError("history show takes one id, e.g. `crosscurrent history show hk:HSI`")

    async def act(redis: Any, keys: Keys) -> list[DailyBar] | list[Outcome]:
        store = HistoryStore(redis, keys, config.history.sessions,
                         config.history.volatility_window)
        if args.action == "backfill":
            wanted = args.ids or config.watchlist
            with Bar("history", len(wanted)) as bar:
                return await backfill(config, store, wanted, bar)
        return await store.get(args.ids[0], args.days)

    found = _read_namespace(config, args, act)
    if args.action == "backfill":
        console.print(f"{len(found)} id(s) failed (see the log)" if found else "backfill done",
                      highlight=False)
        return 1 if found else 0
    bars = [b for b in found if isinstance(b, DailyBar)]
    if not bars:
        console.print(f"no bars of {args.ids[0]} in namespace {args.namespace!r} yet (each "
                      "pipeline keeps its own: --namespace NAME)", highlight=False)
        return 1
    Screen(console, not console.is_terminal).show(history_view(instruments[0], bars))
    return 0


def _backfill_added(args: argparse.Namespace, console: Console) -> None:
    """The daily history of symbols just added, into the live pipeline's store (its Redis,
    or the embedded one), so that a start is calibrated; where it cannot be had now, `run`
    backfills it when it starts."""
    from crosscurrent.app import backfill
    from streams.history import HistoryStore
    from streams.keys import Keys

    config = load_config(args.config or default_config_path())
    args.namespace, args.data_dir, args.redis = "live", None, None

    async def act(redis: Any, keys: Keys) -> list[str]:
        store = HistoryStore(redis, keys, config.history.sessions,
                             config.history.volatility_window)
        with Bar("history", len(args.backfill)) as bar:
            return [o.ident for o in await backfill(config, store, args.backfill, bar)]

    try:
        failed = _read_namespace(config, args, act)
    except Exception as exc:  # no Redis here now: not the watchlist's failure
        console.print(f"history of {', '.join(args.backfill)} not fetched now ({exc}); `run` "
                      "backfills it when it starts", highlight=False)
        return
    done = [i for i in args.backfill if i not in failed]
    if done:
        console.print(f"history backfilled: {', '.join(done)}", highlight=False)
    if failed:
        console.print(f"history not backfilled: {', '.join(failed)} (see the log); `run` "
                      "tries again when it starts", highlight=False)


def _feeds(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.feed_table import feeds_table, latest_statuses

    statuses = _read_namespace(config, args, latest_statuses)
    Screen(console, not console.is_terminal).show(
        feeds_table(config, statuses, time.time_ns() // 1_000_000))
    return 0


def _audit(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.audit import audit, audit_table, audit_window
    from streams.keys import MINUTE_STATS_TTL_S

    if args.since is None:
        stuck_ms = int(args.stuck_after * 1000)
        found = _read_namespace(config, args, lambda redis, keys: audit(redis, keys, stuck_ms))
    else:
        now = time.time_ns() // 1_000_000
        since, until = _moment(args.since, now), _moment(args.until, now) if args.until else now
        if since >= until:
            raise UserError(f"audit: --since {args.since} is not before --until "
                            f"{args.until or 'now'}")
        kept = now - MINUTE_STATS_TTL_S * 1000  # older minutes are gone: not asked for
        if since < kept:
            console.print(f"counters are kept {MINUTE_STATS_TTL_S // 86_400} days: counting "
                          f"from {_utc(kept)}", highlight=False)
            since = max(since, kept)
            until = max(until, since + 60_000)
        found = _read_namespace(config, args, lambda redis, keys: audit_window(
            redis, keys, since, until))
        console.print(f"from {_utc(since)} to {_utc(until)} (whole minutes, UTC)",
                      highlight=False)
    Screen(console, not console.is_terminal).show(audit_table(found))
    if found.lost:
        console.print(f"[bold red]{found.lost} entries unaccounted for[/]", highlight=False)
    if found.stuck:
        console.print(f"[bold red]{found.stuck} pending entries stuck (idle over "
                      f"{args.stuck_after:g}s): a consumer died holding them or keeps failing "
                      "on them; a running agent claims a dead one's after agent.claim_idle_ms[/]",
                      highlight=False)
    if found.unfinished:
        console.print("[bold red]the replay of this namespace stopped before its end: what "
                      "its simulators sent is counted only at the end, so no stage can be "
                      "reconciled; replay it again[/]", highlight=False)
    if found.lost or found.stuck or found.unfinished:
        return 1
    console.print("nothing lost: every stage accounts for what the one before it passed on")
    return 0


def _moment(text: str, now_ms: int) -> int:
    """`2h` (that long before now) or an ISO date-time (UTC unless it says) -> epoch ms."""
    with contextlib.suppress(ValueError):
        return now_ms - int(parse_duration(text) * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{text!r} is neither a duration (90m, 2h, 1d) nor a date-time "
                        "(2026-04-08T14:00, UTC unless it gives its offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _doctor(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.doctor import diagnose

    path = _config_file(args)
    label = f"{path} is valid" if path else "the defaults are valid (no config file)"
    with _redis(config, args) as url:
        verdicts = asyncio.run(diagnose(config, url, label, args.listen))
    for verdict in verdicts:
        style = "green" if verdict.ok else "bold red"
        console.print(f"[{style}]{escape(verdict.line())}[/]", highlight=False, soft_wrap=True)
    return 0 if all(v.ok for v in verdicts) else 1


def _bench(args: argparse.Namespace, config: Config, console: Console) -> int:
    from bench import BenchError

    try:
        return _bench_run(args, config, console)
    except BenchError as exc:
        raise UserError(f"bench: {exc}") from None


def _bench_run(args: argparse.Namespace, config: Config, console: Console) -> int:
    from bench.machine import (
        cpu_ticks,
        machine,
        reference_loop,
        round_trips,
        steal_text,
        stolen,
        wake_cost,
        wake_text,
    )
    from bench.targets import ROW_COLUMNS, Verdict

    parts = sorted(_choices(args.only, BENCH_PARTS, "--only"), key=BENCH_PARTS.index)
    summary: list[str | Verdict] = []
    console.print(machine(), highlight=False)
    loop_before, ticks = reference_loop(), cpu_ticks()
    with _redis(config, args) as url:
        trips_before = asyncio.run(round_trips(url))
        console.print(f"Redis round trip (PING): {trips_before.line()}", highlight=False)
        wake_before = asyncio.run(wake_cost())
        console.print(f"wake-up cost: {wake_before:.1f} µs of CPU a message at 10,000/s",
                      highlight=False)
        for part in parts:
            console.print(f"[bold]{part}[/]")
            summary += _bench_part(part, args, config, url, console)
        if not config.redis.url:  # the embedded Redis: leave its files as small as its data
            from crosscurrent.app import compact

            asyncio.run(compact(url))
        trips_after = asyncio.run(round_trips(url))
        wake_after = asyncio.run(wake_cost())
    summary.append(f"machine speed: a loop of 10M additions took {loop_before:.2f} s before "
                   f"and {reference_loop():.2f} s after (lower is faster; this VM varies by "
                   "half from hour to hour)")
    summary.append(f"machine's Redis round trip (PING), before: {trips_before.line()}; after: "
                   f"{trips_after.line()}")
    summary.append(wake_text(wake_before, wake_after))
    summary.append("machine's CPU time the host took for others over the run: "
                   f"{steal_text(stolen(ticks, cpu_ticks()))}")
    console.print("[bold]summary[/]")
    for line in summary:
        console.print(line if isinstance(line, str) else line.line(), highlight=False,
                      soft_wrap=True)
    verdicts = [v for v in summary if isinstance(v, Verdict)]
    if verdicts:
        Screen(console, not console.is_terminal).table(
            "targets, measured in this run", ROW_COLUMNS, [v.row() for v in verdicts])
    return 0


def _bench_part(part: str, args: argparse.Namespace, config: Config, url: str,
                console: Console) -> Sequence[str | Verdict]:
    if part == "ingest":
        from bench.ingest import run_ingest

        return run_ingest(config, url, args.shared, console, args.rounds,
                          _choices(args.markets, ("usdm", "spot"), "--markets"), args.frames)
    if part == "agents":
        from bench.agents import run_agents

        return asyncio.run(run_agents(config, url, args.events, console, args.rounds))
    if part == "latency":
        from bench.latency import run_latency

        rates = [float(r) for r in args.rates.split(",") if r.strip()]
        return asyncio.run(run_latency(config, url, rates, args.seconds, console,
                                           args.rounds))
    if part == "spine":
        from bench.spine import run_spine

        return asyncio.run(run_spine(config, url, args.events, console))
    if part == "report":
        from bench.report import run_report

        return asyncio.run(run_report(config, url, console))
    if part == "dashboard":
        from bench.dashboard import run_dashboard

        return run_dashboard(config, console)
    if part == "backtest":
        from bench.backtest import run_backtest_bench

        return run_backtest_bench(config, args.shared, console)
    if part == "scale":
        import tempfile

        from bench.scale import run_scale

        with tempfile.TemporaryDirectory() as workdir:
            return asyncio.run(run_scale(config, url, args.events, console, Path(workdir)))
    from bench.memory import run_memory

    return asyncio.run(run_memory(config, url, args.soak_rate, args.minutes, console))


def _choices(text: str, known: tuple[str, ...], flag: str) -> tuple[str, ...]:
    chosen = tuple(m.strip() for m in text.split(",") if m.strip())
    if not chosen or any(m not in known for m in chosen):
        raise UserError(f"{flag} {text!r}: choose from {', '.join(known)}")
    return chosen


def _read_namespace(config: Config, args: argparse.Namespace,
                    read: Callable[[Any, Any], Awaitable[T]]) -> T:
    """`read(redis, keys)` against the pipeline's Redis (its --redis, or the embedded one of
    --data-dir) and --namespace."""
    from streams.keys import Keys
    from streams.redis_client import connect

    async def run(url: str) -> T:
        redis = await connect(url)
        try:
            await _follow(config, args, redis)
            return await read(redis, Keys(config.redis.prefix, args.namespace))
        finally:
            await redis.aclose()

    with _redis(config, args) as url:
        return asyncio.run(run(url))


async def _follow(config: Config, args: argparse.Namespace, redis: Any) -> None:
    """Without --namespace, a read command reads the namespace written last on that Redis
    (else live), and says so on stderr; it learns the user's own instruments its writer
    knew."""
    from streams.keys import Keys
    from streams.owner import learn_instruments, written_last

    if args.namespace is None:
        found = await written_last(redis, config.redis.prefix)
        if found is None:
            args.namespace = "live"
            why = "nothing was written here yet"
        else:
            args.namespace, holder = found
            why = f"written last, by {holder.describe()}"
        print(f"namespace {args.namespace} ({why}; --namespace NAME reads another)",
              file=sys.stderr)
    await learn_instruments(redis, Keys(config.redis.prefix, args.namespace))


def _followed(config: Config, args: argparse.Namespace, url: str) -> Any:
    """`_follow` on its own connection; the namespace's keys."""
    from streams.keys import Keys
    from streams.redis_client import connect

    async def look() -> None:
        redis = await connect(url)
        try:
            await _follow(config, args, redis)
        finally:
            await redis.aclose()

    asyncio.run(look())
    return Keys(config.redis.prefix, args.namespace)


def _redis(config: Config, args: argparse.Namespace) -> AbstractContextManager[str]:
    from crosscurrent.app import redis_url

    if not config.redis.url:  # the embedded server keeps its files there
        flag = ("--data-dir" if args.data_dir else "embedded.data_dir"
                if config.embedded.data_dir else "the data directory")
        writable(args.data_dir or config.embedded.data_dir or default_data_dir(), flag,
                  mode=0o700)  # the private Redis's: never open to others, not for a moment
    return redis_url(config, args.data_dir, loading=Bar("loading Redis's data", 1.0, True))


def _replay(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.app import replay
    from reporters.console import ConsoleView
    from streams.edge import rejected_summary
    from streams.simulators.walk import own_events

    if args.out is not None:
        writable(args.out, "--out")
    if args.command == "demo":
        with resources.as_file(resources.files("crosscurrent").joinpath(DEMO_TAPE)) as path:
            tape = read_tape(path)
        speed = config.demo.speed if args.speed is None else args.speed
        title = "demo 2026-04-08"
    else:
        tape = read_tape(args.tape)
        speed, title = args.speed, f"replay {args.tape.name}"
    if tape.bad_lines:
        console.print(f"[yellow]{tape.bad_lines} bad tape line(s) skipped (see the log above)")
    if own_events(tape, config.watchlist):
        console.print("your own symbols, absent from the tape, get a simulated day of their own")
    console = _screen(args, console)
    with _redis(config, args) as url:
        if _dashboard(args, console):
            result = asyncio.run(_with_dashboard(
                config, args, console, url, "replay", title,
                lambda view: replay(tape, config, url, speed=speed, out=args.out, view=view,
                                    notify=args.notify)))
        else:
            with ConsoleView(console, title) as view:
                result = asyncio.run(replay(tape, config, url, speed=speed, out=args.out,
                                            view=view, notify=args.notify))
    if result is None:  # q on the dashboard before the tape ended
        return 0
    parts = [f"{s} {sent} frames sent / {read} read / {bad} malformed"
             for s, (sent, read, bad) in result.frames.items()]
    parts.append(f"{result.direct} straight into the bus")
    alerts = len(result.alerts)
    console.print(
        f"[bold]{title}[/]: {result.events} events ({', '.join(parts)}), "
        f"{alerts} alert{'s' * (alerts != 1)} in {result.seconds:.1f}s", highlight=False,
    )
    if result.rejected:
        console.print(rejected_summary(result.rejected), highlight=False)
    for receiver, (sent, left) in result.delivered.items():
        console.print(f"receiver {receiver}: {sent} notification(s) delivered"
                      + (f", {left} still queued" if left else ""), highlight=False)
    for path in result.files:
        console.print(f"wrote {path}", highlight=False)
    return 0


def _run(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.app import run_live
    from reporters.console import ConsoleView

    console = _screen(args, console)
    with _redis(config, args) as url:
        if _dashboard(args, console):
            asyncio.run(_with_dashboard(
                config, args, console, url, args.namespace, "live",
                lambda view: run_live(config, url, only=args.only, view=view,
                                      namespace=args.namespace, notify=args.notify,
                                      bus=args.bus)))
            return 0
        asyncio.run(_until_terminated(lambda stop: run_live(
            config, url, only=args.only, view=ConsoleView(console, "live"),
            namespace=args.namespace, notify=args.notify, stop=stop, bus=args.bus),
            lambda: console.print(
                f"following {len(config.watchlist)} ids live; Ctrl-C or SIGTERM stops")))
        console.print("stopped: the bus writer drained, the agents committed their batch")
    return 0


def _worker(args: argparse.Namespace, config: Config, console: Console) -> int:
    if args.engine == "embedded":
        from crosscurrent.app import run_live
        from reporters.console import ConsoleView

        with _redis(config, args) as url:
            asyncio.run(_until_terminated(lambda stop: run_live(
                config, url, only="agents", view=ConsoleView(console, "live"),
                namespace=args.namespace, stop=stop), lambda: console.print(
                    f"agents of {args.namespace} running; Ctrl-C or SIGTERM stops")))
        return 0
    if args.broker:
        config = config.model_copy(update={"kafka": config.kafka.model_copy(
            update={"broker": args.broker})})
    shared = args.redis or config.redis.url
    if not shared:
        raise UserError("a faust worker writes its alerts to the pipeline's Redis: give "
                        "--redis URL (or redis.url), the one `run --bus kafka` uses")
    import faust

    from crosscurrent.app import build_detectors
    from detectors.faust_engine import create_engine

    args.namespace = args.namespace or "live"
    engine = create_engine(config, shared, args.namespace, lambda: build_detectors(config),
                           instance_id=args.instance_id)
    console.print(f"faust worker for {args.namespace}: events from {config.kafka.broker}, "
                  "alerts to Redis; SIGTERM or Ctrl-C stops", highlight=False)
    faust.Worker(engine.app, loglevel="INFO" if args.verbose else "WARNING",
                 quiet=True).execute_from_commandline()
    return 0  # not reached: the worker exits the process


async def _until_terminated(work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
                            started: Callable[[], None]) -> None:
    """Run `work(stop)` until it ends, Ctrl-C or SIGTERM. Both set `stop` and cancel it (a
    library may swallow a cancellation: the event stops it anyway) and wait for its cleanup
    to drain; SIGTERM then ends normally, Ctrl-C as an interrupt (exit 130). `started` is
    called once the signals are handled."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(work(stop))
    signalled = False

    def terminate() -> None:
        nonlocal signalled
        signalled = True
        stop.set()
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    started()
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:  # SIGTERM (the task was cancelled) or Ctrl-C (we were)
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not signalled:
            raise


def _screen(args: argparse.Namespace, console: Console) -> Console:
    return Console(no_color=True) if args.no_color else console


def _dashboard(args: argparse.Namespace, console: Console) -> bool:
    return console.is_terminal and not args.plain


async def _with_dashboard(config: Config, args: argparse.Namespace, console: Console, url: str,
                          namespace: str, title: str, pipeline: Any) -> Any:
    """Run `pipeline(view)` under the live dashboard; when it ends, the board stays until q
    (q earlier stops the pipeline)."""
    from reporters.board import Board
    from reporters.watch import DashboardView
    from streams.keys import Keys

    view = DashboardView(Board(config.detectors.chain.nodes), console, args.lang)
    screen = asyncio.create_task(view.attach_url(url, Keys(config.redis.prefix, namespace),
                                                 history=False))
    work = asyncio.create_task(pipeline(view))
    await asyncio.wait([screen, work], return_when=asyncio.FIRST_COMPLETED)
    if not work.done():  # q: stop the pipeline
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        return None
    result = work.result()
    view.screen.status = f"{title} finished: q quits"
    await screen
    return result


def _watch(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.board import Board
    from reporters.watch import DashboardView

    console = _screen(args, console)
    with _redis(config, args) as url:
        keys = _followed(config, args, url)
        if not _dashboard(args, console):  # not a terminal: plain alert lines
            from reporters.alert_commands import tail_plain

            asyncio.run(tail_plain(url, keys, None, False))
            return 0
        asyncio.run(DashboardView(Board(config.detectors.chain.nodes), console, args.lang)
                    .attach_url(url, keys))
    return 0


def _report(args: argparse.Namespace, config: Config, console: Console) -> int:
    from crosscurrent.app import NothingToReport, report

    writable(args.out, "--out")
    with _redis(config, args) as url:
        _followed(config, args, url)
        try:
            paths = asyncio.run(report(config, url, args.out, args.namespace, args.lang,
                                       args.date))
        except NothingToReport as exc:
            raise UserError(str(exc)) from None
        for path in paths:
            console.print(f"wrote {path}", highlight=False)
    return 0


def _alerts(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.alert_commands import list_alerts, tail_plain

    with _redis(config, args) as url:
        keys = _followed(config, args, url)
        if args.action == "tail":
            asyncio.run(tail_plain(url, keys, args.severity, args.json))
            return 0
        since = None
        if args.since:
            try:
                since = parse_duration(args.since)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        asyncio.run(list_alerts(url, keys, since, args.severity, args.json))
    return 0


def _notify(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.alert_commands import send_test
    from reporters.notifier import ReceiverError, with_cli_receivers

    try:
        notify = with_cli_receivers(config.notify, args.notify)
    except ReceiverError as exc:
        raise UserError(str(exc)) from None
    names = [r.name for r in notify.receivers]
    wanted = args.receiver or ("cli" if args.notify else None)
    if wanted not in names:
        raise UserError(f"no receiver {wanted!r}: name one of the config ({', '.join(names)})"
                        if names else "no receivers: add one under notify.receivers in the "
                        "config, or give --notify APPRISE_URL")
    receiver = next(r for r in notify.receivers if r.name == wanted)
    try:
        ok = asyncio.run(send_test(receiver))
    except ReceiverError as exc:
        raise UserError(str(exc)) from None
    console.print(f"receiver {receiver.name}: " + ("test notification delivered" if ok
                  else "[red]delivery failed[/] (is it reachable? see the log)"))
    return 0 if ok else 1


def _silence(args: argparse.Namespace, config: Config, console: Console) -> int:
    from reporters.alert_commands import silence_command

    if args.action in ("add", "expire") and not args.target:
        raise UserError(f"silence {args.action} needs "
                        + ("the matchers, e.g. 'detector=divergence ids=hk:*'"
                           if args.action == "add" else "the silence id (see silence list)"))
    with _redis(config, args) as url:
        keys = _followed(config, args, url)
        try:
            for line in asyncio.run(silence_command(url, keys, args.action,
                                                    args.target, args.duration, args.comment)):
                console.print(line, highlight=False)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

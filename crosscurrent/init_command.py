"""`crosscurrent init`: a commented config of one's own, for the watchlist and the receivers.

The file is the user's default config (read by every command without --config) unless
--config names another; it holds only what a user sets first, each part explained, and
loads as written (checked before it replaces anything).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from crosscurrent.config import load_config
from crosscurrent.user_errors import UserError
from crosscurrent.watchlist_command import default_config_path

EXAMPLES = """\
examples:
  crosscurrent init                                   the default file, to edit
  crosscurrent init --notify env:NTFY_URL             alerts to your phone (ntfy), the URL
                                                      kept in the environment
  crosscurrent init --watch SOL/USDT --watch NVDA --config live.yaml
then:
  crosscurrent doctor           checks the file, Redis and every source
  crosscurrent run              follows the watchlist live
"""

TEMPLATE = """\
# crosscurrent config, made by `crosscurrent init` on {day}.
# Every key left out takes its default: `crosscurrent config` prints them all, documented.
# Check this file with `crosscurrent doctor`; `crosscurrent watchlist add|remove` edits the
# watchlist below and keeps these comments.

# What to follow: the catalog's ids (`crosscurrent catalog`), or your own symbols:
#   SOL/USDT (Binance spot), okx:SOL/USDT (any ccxt.pro venue), SOL/USDT:USDT (a perpetual
#   and its funding), NVDA / 0700.HK / 600519.SS / 7203.T / ^N225 (Yahoo; the suffix gives
#   the market and its trading hours), defillama:aave (a protocol's TVL).
watchlist:
{watchlist}

notify:
  # Who hears of alerts: apprise URLs (https://github.com/caronc/apprise/wiki): ntfy://topic
  # for a phone, tgram://BOT_TOKEN/CHAT_ID for Telegram, mailtos://user:pass@host for e-mail,
  # json://host/path for a webhook. Write env:VAR or file:PATH instead of a URL that holds a
  # token: it is read from there, and stays out of this file. lang: en, zh or both.
  receivers:
{receivers}
  # Which alerts go where, in order (the first match wins unless it says continue).
  # Matchers: detector, severity, ids, key, tags, state; wildcards and commas allowed.
  routes:
{routes}
  # Mute alerts while every market of their ids is closed:
  #   mute: [{{match: "ids=hk:*,cn:*"}}]
"""
PLAIN = re.compile(r"[A-Za-z0-9^][\w:/.^-]*")
NO_RECEIVER = """\
    # - {name: phone, urls: ["env:NTFY_URL"], lang: en, per_minute: 30}
    # - {name: desk, urls: ["env:SLACK_URL"], lang: both}
    []"""
NO_ROUTE = """\
    # - {match: severity=critical, receivers: [phone], continue: true}
    # - {match: "", receivers: [desk]}
    []"""


def add_init_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "init", help="write a commented config for your watchlist and receivers",
        description="Write a commented config file: the watchlist (the default one, plus "
        "--watch symbols) and who receives alerts (--notify), each part explained. Written to "
        f"--config, else to {default_config_path()}, which every command reads when it "
        "exists. An existing file is kept unless --force.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"the file to write (default: {default_config_path()})")
    parser.add_argument("--watch", action="append", default=[], metavar="SYMBOL",
                        help="a symbol or id to follow besides the default watchlist "
                        "(repeatable; `crosscurrent watchlist add` checks it with its source)")
    parser.add_argument("--notify", action="append", default=[], metavar="URL",
                        help="a receiver of every alert: an apprise URL, or env:VAR / file:PATH "
                        "holding one (repeatable)")
    parser.add_argument("--force", action="store_true", help="replace an existing file")


def config_text(watch: list[str], notify: list[str], day: str) -> str:
    """The commented config: the default watchlist plus `watch`, `notify` as receivers."""
    ids = list(load_config().watchlist) + watch
    receivers = NO_RECEIVER
    routes = NO_ROUTE
    if notify:
        names = [f"receiver{n}" if n else "phone" for n in range(len(notify))]
        receivers = "\n".join(f"    - {{name: {name}, urls: [{json.dumps(url)}], lang: both}}"
                              for name, url in zip(names, notify, strict=True))
        routes = f"    - {{match: \"\", receivers: [{', '.join(names)}]}}"
    return TEMPLATE.format(day=day, watchlist="\n".join(f"  - {_quoted(i)}" for i in ids),
                           receivers=receivers, routes=routes)


def _quoted(text: str) -> str:
    """`text` as it is where YAML reads it back plain, else double-quoted (JSON's quoting
    is YAML's)."""
    return text if PLAIN.fullmatch(text) else json.dumps(text)


def run_init_command(args: argparse.Namespace, console: Console) -> int:
    path: Path = args.config or default_config_path()
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; edit it, or run `crosscurrent init --force` to "
                        "replace it")
    text = config_text(args.watch, args.notify, datetime.now(UTC).date().isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.new")
    # 0600: a receiver URL may hold a token
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                   encoding="utf-8") as handle:
        handle.write(text)
    try:
        load_config(draft)  # it loads, or nothing is replaced
    except Exception:
        draft.unlink()
        raise
    draft.replace(path)
    console.print(f"wrote {path}\nnext: `crosscurrent doctor` checks it; `crosscurrent "
                  "demo` and `crosscurrent run` read it", highlight=False, soft_wrap=True)
    return 0

"""Hostile input to every parser: each either gives its result or raises its own one-line
error (which the caller counts and logs), never anything else. Inputs are random bytes,
random JSON, and real frames with their fields replaced by random JSON values."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crosscurrent.catalog import default_catalog
from crosscurrent.config import ConfigError, load_config
from detectors.rule_language import RuleError, compile_rule
from streams.backfill import YahooChart
from streams.binance import BinanceProtocol
from streams.coingecko import CoinGeckoProtocol
from streams.defillama import STABLECOINS_PATH, DefiLlamaProtocol
from streams.feed import FrameError
from streams.tape import LineError, parse_line
from streams.yahoo import YahooProtocol, pricing_data_class

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)

REAL = {
    "binance trade": {"stream": "btcusdt@trade", "data": {
        "e": "trade", "E": 1775635200000, "s": "BTCUSDT", "t": 12345, "p": "71917.01",
        "q": "0.002", "T": 1775635200000, "m": True, "M": True}},
    "binance ticker": {"stream": "btcusdt@ticker", "data": {
        "e": "24hrTicker", "E": 1775635200000, "s": "BTCUSDT", "o": "68900.00",
        "c": "71917.01", "h": "72000.00", "l": "68800.00", "v": "1234.5", "q": "88000000.0"}},
    "binance bookTicker": {"stream": "btcusdt@bookTicker", "data": {
        "u": 1, "s": "BTCUSDT", "b": "71917.00", "B": "1.0", "a": "71917.01", "A": "2.0",
        "T": 1775635200000, "E": 1775635200000}},
    "binance markPrice": {"stream": "btcusdt@markPrice@1s", "data": {
        "e": "markPriceUpdate", "E": 1775635200000, "s": "BTCUSDT", "p": "71900.0",
        "r": "0.0001", "T": 1775664000000}},
}


def mutated(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A real frame with some fields (top level and in `data`) replaced by random JSON."""

    def build(top: dict[str, Any], inner: dict[str, Any]) -> bytes:
        frame = {**template, **top}
        if isinstance(template.get("data"), dict):
            frame["data"] = {**template["data"], **inner}
        return dumps(frame)

    keys = list(template)
    inner_keys = list(template.get("data", {}) or [])
    return st.builds(build, st.dictionaries(st.sampled_from(keys), json_values, max_size=2),
                     st.dictionaries(st.sampled_from(inner_keys or ["x"]), json_values,
                                     max_size=3))


def dumps(value: Any) -> bytes:
    """JSON as a peer might send it: big integers and NaN included."""
    return json.dumps(value).encode()


def frames() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200), json_values.map(dumps),
                     *(mutated(t) for t in REAL.values()))


def only(raises: type[Exception], call: Callable[[], object]) -> None:
    try:
        call()
    except raises as exc:
        assert str(exc), "an error must say what is wrong"


FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("source", ["binance", "binance-usdm", "binance-coinm"])
@FUZZ
@given(frame=frames())
def test_binance_frames(source: str, frame: bytes) -> None:
    ids = {"binance": ["crypto:BTC"], "binance-usdm": ["perp:BTC", "funding:BTC"],
           "binance-coinm": ["perp:BTCUSD"]}[source]
    proto = BinanceProtocol("ws://x", ids, source=source)
    only(FrameError, lambda: proto.parse(frame, 0))
    only(FrameError, lambda: proto.parse_backfill("/api/v3/trades?symbol=BTCUSDT", frame, 0))


@FUZZ
@given(frame=st.one_of(
    frames(), st.binary(max_size=120).map(lambda b: orjson.dumps(
        {"type": "pricing", "message": base64.b64encode(b).decode()})),
    st.builds(lambda price, time: orjson.dumps({"type": "pricing", "message": base64.b64encode(
        pricing_data_class()(id="^HSI", price=price, time=time).SerializeToString()).decode()}),
        st.floats(width=32), st.integers(-2**63, 2**63 - 1))))
def test_yahoo_frames(frame: bytes) -> None:
    proto = YahooProtocol("ws://x", ["hk:HSI", "us:IXIC"])
    only(FrameError, lambda: proto.parse(frame, 0))


@FUZZ
@given(body=st.one_of(st.binary(max_size=200), json_values.map(dumps)),
       path=st.sampled_from(["/tvl/lido", "/summary/dexs/uniswap-v3", STABLECOINS_PATH, "/x"]))
def test_defillama_and_coingecko_replies(body: bytes, path: str) -> None:
    catalog = default_catalog()
    tvl = [i.id for i in catalog.for_source("defillama") if i.asset != "stablecoin"]
    stables = [i.id for i in catalog.for_source("defillama") if i.asset == "stablecoin"]
    for proto in (DefiLlamaProtocol(tvl), DefiLlamaProtocol(stables, part="stablecoins")):
        only(FrameError, lambda proto=proto: proto.parse(path, body, 0, 0))  # type: ignore[misc]
    only(FrameError, lambda: CoinGeckoProtocol(["crypto:TOTAL_MCAP"]).parse(
        "/api/v3/global", body, 0, 0))


@FUZZ
@given(body=st.one_of(st.binary(max_size=200), json_values.map(
    lambda v: dumps({"chart": {"result": [v]}}))))
def test_yahoo_chart_replies(body: bytes) -> None:
    only(FrameError, lambda: YahooChart("http://x").parse(body, ZoneInfo("Asia/Hong_Kong")))


@FUZZ
@given(line=st.one_of(st.binary(max_size=120), json_values.map(dumps),
                      st.dictionaries(st.sampled_from(["ts", "id", "value", "volume",
                                                       "prev_close", "kind", "date", "open",
                                                       "high", "low", "close"]),
                                      json_values | st.just("hk:HSI") | st.just("bar"),
                                      max_size=8).map(dumps)))
def test_tape_lines(line: bytes) -> None:
    only(LineError, lambda: parse_line(line, default_catalog()))


def aliased(names: list[str]) -> str:
    """YAML whose values are built from the ones before them by alias (up to a bomb)."""
    lines = ["a0: &a0 [x, y]"]
    for n, name in enumerate(names, start=1):
        lines.append(f"a{n}: &a{n} [{', '.join(f'*{name}' for _ in range(9))}]")
    return "\n".join(lines) + "\n"


yaml_texts = st.one_of(
    st.lists(st.integers(0, 8), max_size=9).map(
        lambda refs: aliased([f"a{min(r, n)}" for n, r in enumerate(refs)])),
    st.builds(lambda depth, bracket: f"a: {bracket[0] * depth}{bracket[1] * depth}",
              st.integers(0, 5000), st.sampled_from(["[]", "{}"])),
    st.sampled_from(["a: &a [1, *a]\n", "a: 2026-02-30\n", "a: 1" + "0" * 5000 + "\n",
                     "a: !!float x\n", "a: !!binary zz\n", "? [1]\n: 2\n", "a: *nope\n",
                     "redis: {url: 'localhost:6379'}\n", "redis: {url: 'redis://:x@[::1'}\n"]))


@FUZZ
@given(text=st.one_of(st.text(max_size=200), json_values.map(lambda v: json.dumps(
    {"detectors": v})), st.dictionaries(
        st.sampled_from(["redis", "watchlist", "detectors", "notify", "feeds", "agent",
                         "sources", "report"]), json_values, max_size=3).map(json.dumps),
    yaml_texts, st.binary(max_size=200)))
def test_config_files(tmp_path_factory: pytest.TempPathFactory, text: str | bytes) -> None:
    path: Path = tmp_path_factory.mktemp("config") / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc), "one line that says what is wrong"


@FUZZ
@given(name=st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"), max_size=30),
       value=st.text(max_size=40))
def test_environment_variables(name: str, value: str) -> None:
    try:
        load_config(env={f"CROSSCURRENT_{name}": value})
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc), "one line that says what is wrong"


OPERANDS = ['change("crypto:ETH")', 'price("hk:HSI")', "__import__('os')", "().__class__",
            "1e999", '"x"', "value(1)", "funding('BTC')", "0.05", 'value("cn:TURNOVER")',
            "lambda: 1", "[1]", "x", "-1", "(1, 2)", "None", "True", "1" + "0" * 400]
OPERATORS = [">", "and", "or", "+", "/", "**", "if", "<<", "in", "not in", "is", "is not",
             "==", "<", "<=", "!=", "*", "-", "%", "//", "@", "&"]
operands = st.sampled_from(OPERANDS) | st.builds(lambda n: str(n), st.integers())


def expressions(depth: int = 2) -> st.SearchStrategy[str]:
    """Operands joined by any operator, nested a few levels (parentheses included)."""
    if depth == 0:
        return operands
    inner = expressions(depth - 1)
    return st.one_of(inner, st.builds(lambda a, op, b: f"{a} {op} {b}", inner,
                                      st.sampled_from(OPERATORS), inner),
                     inner.map(lambda e: f"({e})"), inner.map(lambda e: f"not {e}"),
                     inner.map(lambda e: f"-{e}"))


nested = st.builds(lambda wrap, depth, core: wrap[0] * depth + core + wrap[1] * depth,
                   st.sampled_from([("(", ")"), ("-", ""), ("not ", ""), ("1 + ", ""),
                                    ("(1 + ", ")"), ("[", "]"), ("+", ""), ("~", "")]),
                   st.integers(0, 6000), st.sampled_from([*OPERANDS[:2], "1 in 2", "1 > 0"]))
huge = st.builds(lambda digits, tail: "1" + "0" * digits + tail, st.integers(0, 200_000),
                 st.sampled_from(["", " > 1", ".5 > 1", " is 1", "_0 > 1", "e5 > 1"]))


class Values:
    """A lookup with a value for every id (some infinite or zero)."""

    def __init__(self, value: float) -> None:
        self.value_of = value

    def change(self, ident: str) -> float | None:
        return self.value_of

    def price(self, ident: str) -> float | None:
        return self.value_of

    def value(self, ident: str) -> float | None:
        return self.value_of


@FUZZ
@given(text=st.one_of(st.text(max_size=80), expressions(), nested, huge),
       value=st.sampled_from([0.0, 1.0, -1e308, float("inf"), float("nan")]))
def test_rule_expressions(text: str, value: float) -> None:
    try:
        rule = compile_rule(text)
    except RuleError as exc:
        assert str(exc) and "\n" not in str(exc), "one line that says where and what"
        return
    assert rule.evaluate(Values(value)) in (True, False, None)


@pytest.mark.parametrize("text", ['price("hk:HSI") in 1', 'price("hk:HSI") not in 1',
                                  'price("hk:HSI") is 1', 'price("hk:HSI") is not 1',
                                  "(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1",
                                  "not " * 5000 + "1", "1 + " * 5000 + "1",
                                  "1" + "0" * 100_000 + " > 1", "1_0" * 1000 + " > 1"])
def test_rule_expressions_that_once_escaped(text: str) -> None:
    """`in` and `is` reached the compiler (KeyError); nesting overflowed the parser's stack
    or ours (RecursionError); a huge integer broke the int-to-float conversion."""
    with pytest.raises(RuleError) as error:
        compile_rule(text)
    assert "\n" not in str(error.value)

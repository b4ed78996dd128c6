"""Configuration: one YAML file validated with pydantic; CROSSCURRENT_* environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from crosscurrent.detector_config import DetectorsConfig
from crosscurrent.loop import Choice
from crosscurrent.notify_config import NotifyConfig
from crosscurrent.sections import KnownId
from crosscurrent.sections import Section as _Section

ENV_PREFIX = "CROSSCURRENT_"


class ConfigError(ValueError):
    """A configuration the user must fix: the message is one line that says where and what."""


class RedisConfig(_Section):
    url: str | None = None
    prefix: str = Field("cc", pattern=r"^[A-Za-z0-9_.-]+$")
    stream_maxlen: int = Field(1_000_000, ge=1000)
    batch_size: int = Field(500, ge=1)
    flush_ms: float = Field(0, ge=0)
    buffer: int = Field(100_000, ge=1)
    pack: int = Field(20, ge=1, le=1000)


class EmbeddedConfig(_Section):
    data_dir: Path | None = None
    binary: Path | None = None


class WebsocketSource(_Section):
    ws_url: str  # the host's root: the adapter adds the paths
    rest_url: str | None = None  # where a reconnect's gap is backfilled from
    # Binance futures: market data on the root (legacy) or under /public and /market
    layout: Literal["legacy", "category"] = "legacy"


class YahooSource(_Section):
    ws_url: str = "wss://streamer.finance.yahoo.com/?version=2"
    chart_url: str = "https://query1.finance.yahoo.com"  # daily history (backfill)
    resubscribe_s: float = Field(15, gt=0)


class DefiLlamaSource(_Section):
    api_url: str = "https://api.llama.fi"
    stablecoins_url: str = "https://stablecoins.llama.fi"
    poll_s: float = Field(300, gt=0)


class EastmoneySource(_Section):
    poll_s: float = Field(60, gt=0)
    proxy: str | None = None  # an HTTPS proxy for akshare (HTTPS_PROXY), if one is needed
    ca_bundle: str | None = None  # extra CA certificates to trust (REQUESTS_CA_BUNDLE)


class CoinGeckoSource(_Section):
    api_url: str = "https://api.coingecko.com"
    poll_s: float = Field(60, gt=0)
    api_key: str | None = None  # sent as x-cg-<plan>-api-key; never logged
    api_plan: Literal["demo", "pro"] = "demo"

    def base_url(self) -> str:
        """`api_url`; with the pro plan and the public default, the pro host instead."""
        if self.api_plan == "pro" and self.api_url.rstrip("/") == "https://api.coingecko.com":
            return "https://pro-api.coingecko.com"
        return self.api_url


class SourcesConfig(_Section):
    binance: WebsocketSource = WebsocketSource(ws_url="wss://stream.binance.com:9443",
                                               rest_url="https://api.binance.com")
    binance_usdm: WebsocketSource = WebsocketSource(ws_url="wss://fstream.binance.com",
                                                    rest_url="https://fapi.binance.com",
                                                    layout="category")
    binance_coinm: WebsocketSource = WebsocketSource(ws_url="wss://dstream.binance.com",
                                                     rest_url="https://dapi.binance.com")
    yahoo: YahooSource = YahooSource()
    defillama: DefiLlamaSource = DefiLlamaSource()
    coingecko: CoinGeckoSource = CoinGeckoSource()
    eastmoney: EastmoneySource = EastmoneySource()

    @model_validator(mode="after")
    def _spot_has_no_categories(self) -> SourcesConfig:
        if self.binance.layout != "legacy":
            raise ValueError("sources.binance.layout: Binance spot serves every stream on its "
                             "root; only binance_usdm and binance_coinm take `category`")
        return self

    def layout(self, source: str) -> Literal["legacy", "category"]:
        """The path layout of a Binance market (`binance-usdm` -> binance_usdm.layout)."""
        section = getattr(self, source.replace("-", "_"), None)
        return section.layout if isinstance(section, WebsocketSource) else "legacy"

    def ws_url(self, source: str) -> str:
        """The websocket address of a catalog source name (`binance-usdm` -> binance_usdm)."""
        section = getattr(self, source.replace("-", "_"), None)
        if not isinstance(section, WebsocketSource | YahooSource):
            raise ValueError(f"no websocket source {source!r} in the config")
        return section.ws_url

    def rest_url(self, source: str) -> str | None:
        """Where a websocket source's gaps are backfilled from (None: nowhere)."""
        section = getattr(self, source.replace("-", "_"), None)
        return section.rest_url if isinstance(section, WebsocketSource) else None


class FeedsConfig(_Section):
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30, gt=0)
    stale_after_s: float = Field(60, gt=0)


class AgentConfig(_Section):
    batch: int = Field(50, ge=1)
    block_ms: int = Field(200, ge=1)
    claim_idle_ms: int = Field(30_000, ge=0)


class CcxtExchange(_Section):
    """One ccxt.pro exchange followed live: canonical id -> the exchange's unified symbol."""

    exchange: str
    ids: dict[KnownId, str]
    trades_limit: int = Field(10_000, ge=1)


class KafkaConfig(_Section):
    """The Kafka bus and the Faust engine (`run --bus kafka`, `worker --engine faust`)."""

    broker: str = "kafka://localhost:9092"
    partitions: int = Field(4, ge=1)  # of the events topic, and so of the instruments table
    declare: bool = True  # create the topics; False where the broker creates them on use
    session_timeout_s: float = Field(10, gt=0)  # how soon a dead worker's partitions move
    # A partition silent this long stops holding back the cross-market stage (keep it above
    # session_timeout_s plus a takeover, so a dead worker's partitions are waited for).
    idle_s: float = Field(30, gt=0)
    # The longest a worker's fetch waits at the broker for records (Faust's own: 1.5 s).
    fetch_wait_s: float = Field(0.1, gt=0)


class HistoryConfig(_Section):
    sessions: int = Field(400, ge=2)
    window: int = Field(20, ge=2)


class DemoConfig(_Section):
    speed: float = Field(2000, gt=0)


class Snapshot(_Section):
    """A local time at which `run` writes the day's report."""

    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    tz: str = "UTC"

    @model_validator(mode="after")
    def _known_zone(self) -> Snapshot:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        return self


class LlmConfig(_Section):
    """An OpenAI-compatible endpoint that may rewrite the key insight (never required)."""

    url: str | None = None  # e.g. https://api.openai.com/v1 ; None: off
    model: str = "gpt-4o-mini"
    api_key: str = "env:OPENAI_API_KEY"  # env:VAR or file:PATH (or the key itself)
    timeout_s: float = Field(30, gt=0)


class ReportConfig(_Section):
    lang: Literal["en", "zh", "both"] = "both"
    out_dir: Path | None = None  # None: <the user data dir>/reports
    snapshots: tuple[Snapshot, ...] = ()
    llm: LlmConfig = LlmConfig()


class Config(_Section):
    redis: RedisConfig = RedisConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    sources: SourcesConfig = SourcesConfig()
    feeds: FeedsConfig = FeedsConfig()
    loop: Choice = "auto"  # the event loop: crosscurrent/loop.py
    watchlist: tuple[KnownId, ...] = ()
    ccxt: tuple[CcxtExchange, ...] = ()
    agent: AgentConfig = AgentConfig()
    kafka: KafkaConfig = KafkaConfig()
    history: HistoryConfig = HistoryConfig()
    detectors: DetectorsConfig = DetectorsConfig()
    demo: DemoConfig = DemoConfig()
    notify: NotifyConfig = NotifyConfig()
    report: ReportConfig = ReportConfig()


def default_config_text() -> str:
    return resources.files("crosscurrent").joinpath("data/default-config.yaml").read_text("utf-8")


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The default config, overlaid with `path` (if given) and the environment."""
    env = os.environ if env is None else env
    data = _read_yaml(default_config_text(), "the default config")
    source = "the default config"
    if path is not None:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"config {path}: cannot read it ({exc.strerror})") from None
        source = f"config {path}"
        _merge(data, _read_yaml(text, source))
    overrides = _env_overrides(env)
    for dotted, value in overrides.items():
        _set_path(data, dotted.split("."), value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, overrides)) from None


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{where} is not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Map CROSSCURRENT_REDIS_BATCH_SIZE=... to {"redis.batch_size": ...}."""
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        words = name[len(ENV_PREFIX):].lower().split("_")
        path = _field_path(Config, words)
        if path is None:
            continue  # not a config key (e.g. CROSSCURRENT_SECRET_*): left to its own reader
        try:
            found[".".join(path)] = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            found[".".join(path)] = raw
    return found


def _field_path(model: type[BaseModel], words: list[str]) -> list[str] | None:
    """Match words to nested field names, longest field name first."""
    for cut in range(len(words), 0, -1):
        name = "_".join(words[:cut])
        field = model.model_fields.get(name)
        if field is None:
            continue
        rest = words[cut:]
        if not rest:
            return [name]
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            tail = _field_path(sub, rest)
            if tail is not None:
                return [name, *tail]
    return None


def _explain(exc: ValidationError, source: str, overrides: Mapping[str, Any]) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    origin = source
    for dotted in overrides:
        if key == dotted or key.startswith(dotted + "."):
            origin = f"environment variable {ENV_PREFIX}{dotted.replace('.', '_').upper()}"
    if error["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}' (see the default config: crosscurrent config)"
    got = error.get("input")
    more = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    message = error["msg"][:1].lower() + error["msg"][1:]  # ids in it keep their case
    return f"{origin}: key '{key}': {message}, got {got!r}{more}"

"""Configuration: one YAML file validated with pydantic; CROSSCURRENT_* environment overrides."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crosscurrent.detector_config import DetectorsConfig
from crosscurrent.loop import Choice
from crosscurrent.notify_config import NotifyConfig
from crosscurrent.sections import KnownId, submodel
from crosscurrent.sections import Section as _Section
from crosscurrent.watchlist import venue_entries, watch_id, with_funding
from streams.redis_client import RedisUrlError, check_url

ENV_PREFIX = "CROSSCURRENT_"
#: CROSSCURRENT_* variables the project reads that are not config keys
OTHER_VARIABLES = frozenset({"CROSSCURRENT_COMPILED", "CROSSCURRENT_LONG_FAULTS"})
SECRET_PREFIX = "CROSSCURRENT_SECRET_"  # for secrets a config names as env:CROSSCURRENT_SECRET_X
MAX_CONFIG_BYTES = 1_000_000  # a config file's size (the documented default is 20 kB)
MAX_YAML_NODES = 100_000  # values of a YAML document with its aliases expanded


class ConfigError(ValueError):
    """A configuration the user must fix: the message is one line that says where and what."""


class RedisConfig(_Section):
    url: str | None = None
    prefix: str = Field("cc", pattern=r"^[A-Za-z0-9_.-]+$")
    stream_maxlen: int = Field(1_000_000, ge=1000)
    batch_size: int = Field(500, ge=1, le=100_000)
    flush_ms: float = Field(0, ge=0)
    buffer: int = Field(100_000, ge=1, le=10_000_000)
    pack: int = Field(20, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _url_form(cls, url: str | None) -> str | None:
        if url:  # empty: the embedded redis-server
            try:
                check_url(url)
            except RedisUrlError as exc:
                raise ValueError(str(exc)) from None
        return url


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
    # the edge gate (streams/gate.py): event times accepted around the stream's clock
    max_past_s: float = Field(7 * 86_400, gt=0)
    max_future_s: float = Field(3600, gt=0)
    late_tolerance_s: float = Field(600, ge=0)  # how far back an id's time may step


class AgentConfig(_Section):
    batch: int = Field(50, ge=1, le=100_000)  # entries a read may return
    block_ms: int = Field(200, ge=1)
    claim_idle_ms: int = Field(30_000, ge=0)
    # While entries keep coming, until how long after its read a batch waits for more before
    # its commit (which reads the next ones): fewer, fuller round trips under load; 0: never.
    max_wait_ms: float = Field(1.0, ge=0, le=1000)


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
    # How often a worker commits what it has taken (and flushed what that sent): what a
    # worker that dies without a word took since is taken again by the next.
    commit_interval_s: float = Field(1.0, gt=0)


class HistoryConfig(_Section):
    sessions: int = Field(400, ge=2)
    window: int = Field(20, ge=2)
    volatility_window: int = Field(60, ge=2)

    @property
    def needed(self) -> int:
        """The sessions the baselines read (what a backfill fetches)."""
        return max(self.window, self.volatility_window) + 1


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
    # ids of the catalog, or the user's own symbols (crosscurrent/watchlist.py)
    watchlist: Annotated[tuple[Annotated[str, BeforeValidator(watch_id)], ...],
                         AfterValidator(with_funding)] = ()
    ccxt: tuple[CcxtExchange, ...] = ()
    agent: AgentConfig = AgentConfig()
    kafka: KafkaConfig = KafkaConfig()
    history: HistoryConfig = HistoryConfig()
    detectors: DetectorsConfig = DetectorsConfig()
    demo: DemoConfig = DemoConfig()
    notify: NotifyConfig = NotifyConfig()
    report: ReportConfig = ReportConfig()

    @model_validator(mode="before")
    @classmethod
    def _own_symbols(cls, data: Any) -> Any:
        """The watchlist's symbols of a ccxt.pro venue become `ccxt` entries. (Its items
        become ids, and instruments, as the field is validated: before the sections after
        it that name ids, rules and pairs.)"""
        if isinstance(data, dict):
            data = dict(data)
            venue_entries(data)
        return data


def default_config_text() -> str:
    return resources.files("crosscurrent").joinpath("data/default-config.yaml").read_text("utf-8")


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The default config, overlaid with `path` (if given) and the environment."""
    env = os.environ if env is None else env
    data = _read_yaml(default_config_text(), "the default config")
    source = "the default config"
    if path is not None:
        source = f"config {path}"
        _merge(data, _read_yaml(_read_file(path), source))
    overrides = _env_overrides(env, set(_env_references(data)))
    for dotted, value in overrides.items():
        _set_path(data, dotted.split("."), value)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, overrides)) from None
    names = [rule.name for rule in config.detectors.rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{_origin('detectors.rules', source, overrides)}: key "
                          f"'detectors.rules': two rules are named {twice[0]!r}; give each "
                          "rule a name of its own")
    return config


def _read_file(path: Path) -> str:
    """The file's text: at most MAX_CONFIG_BYTES of UTF-8."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path}: larger than the limit of {MAX_CONFIG_BYTES:,} bytes "
                          "for a config file; is it the right file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"config {path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
                          f"{line}); save it as UTF-8") from None


class _YamlLimitError(yaml.YAMLError):
    """A document too large once its aliases are expanded, or one that contains itself."""


class _BoundedLoader(yaml.SafeLoader):
    """yaml's safe loader that refuses documents of more than MAX_YAML_NODES values with
    their aliases expanded (an alias bomb) before building them."""

    def construct_document(self, node: yaml.Node) -> Any:
        if _expanded_size(node) > MAX_YAML_NODES:
            raise _YamlLimitError(f"its aliases (*name) expand it to more than the limit of "
                                  f"{MAX_YAML_NODES:,} values: refused without expanding them "
                                  "(an alias bomb?); write the values out or use fewer aliases")
        return super().construct_document(node)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds with every alias expanded, counted without
    expanding them (each node once, depth first, without recursion)."""
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()  # the ancestors of the node at hand
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            open_ids.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_YAML_NODES:
                return sizes[id(node)]
        elif id(node) in open_ids:
            raise _YamlLimitError("an alias (*name) refers to a value that contains it; "
                                  "refused (a recursive document)")
        elif id(node) not in sizes:
            open_ids.add(id(node))
            stack.append((node, True))
            stack += [(child, False) for child in _children(node) if id(child) not in sizes]
    return sizes[id(root)]


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader: no arbitrary objects


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = _load_yaml(text)
    except _YamlLimitError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{where} is not valid YAML ({_one_line(problem)})") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to read (deeper than Python's "
                          f"recursion limit of {sys.getrecursionlimit()} allows)") from None
    except (ValueError, OverflowError) as exc:  # a value of a known tag: a date, a number
        raise ConfigError(f"{source}: is not valid YAML ({_one_line(str(exc))})") from None
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


def _env_references(data: Any) -> Iterator[str]:
    """The variables the config's values name as `env:NAME` (receiver URLs, keys)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += value.values()
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and value.startswith("env:"):
            yield value[4:]


def _env_overrides(env: Mapping[str, str], referenced: set[str]) -> dict[str, Any]:
    """Map CROSSCURRENT_REDIS_BATCH_SIZE=... to {"redis.batch_size": ...}; a CROSSCURRENT_*
    variable that is no key, no variable of the project's own and not named by the config
    is a ConfigError naming the nearest known one (a typo must not pass unnoticed)."""
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        words = name[len(ENV_PREFIX):].lower().split("_")
        path = _field_path(Config, words)
        if path is None:
            if name in OTHER_VARIABLES or name.startswith(SECRET_PREFIX) or name in referenced:
                continue
            raise ConfigError(_unknown_variable(name))
        try:
            found[".".join(path)] = _load_yaml(raw) if raw else None
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
            found[".".join(path)] = raw
    return found


def env_names(model: type[BaseModel] = Config, prefix: str = ENV_PREFIX) -> list[str]:
    """Every variable that overrides a key of `model` (sections too)."""
    names = []
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        names.append(name)
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            names += env_names(sub, f"{name}_")
    return names


def _unknown_variable(name: str) -> str:
    known = {n[len(ENV_PREFIX):]: n for n in [*env_names(), *OTHER_VARIABLES]}
    close = difflib.get_close_matches(name[len(ENV_PREFIX):], known, n=1)
    hint = f"; did you mean {known[close[0]]}?" if close else ""
    return (f"environment variable {name} is not a crosscurrent setting{hint}. Unset it (the "
            f"variables are {ENV_PREFIX}<SECTION>_<KEY>, for the keys `crosscurrent config` "
            "prints)")


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


def _origin(key: str, source: str, overrides: Mapping[str, Any]) -> str:
    """Where `key` got its value: the file (or the defaults), or an environment variable."""
    origin = source
    for dotted in overrides:
        if key == dotted or key.startswith(dotted + "."):
            origin = f"environment variable {ENV_PREFIX}{dotted.replace('.', '_').upper()}"
    return origin


def _explain(exc: ValidationError, source: str, overrides: Mapping[str, Any]) -> str:
    """The first error as one line: where, which key, what is wrong."""
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo
    key = ".".join(str(part) for part in error["loc"])
    origin = _origin(key, source, overrides)
    if error["type"] == "extra_forbidden":
        return (f"{origin}: unknown key '{key}'{_nearest_key(error['loc'])} (see the default "
                "config: crosscurrent config)")
    got = error.get("input")
    more = f" ({len(errors) - 1} more)" if len(errors) > 1 else ""
    message = _one_line(error["msg"][:1].lower() + error["msg"][1:])  # ids keep their case
    if error["type"] == "value_error" or isinstance(got, dict | list | tuple):
        return f"{origin}: key '{key}': {message}{more}"  # it names the value, if any
    shown = repr(got)
    if len(shown) > 80:
        shown = f"{shown[:77]}..."
    return f"{origin}: key '{key}': {message}, got {shown}{more}"


def _nearest_key(loc: tuple[int | str, ...]) -> str:
    """", did you mean 'redis.batch_size'?" for the unknown key at `loc`, if one is close."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list: its model is the list's
        field = model.model_fields.get(part) if model is not None else None
        model = submodel(field.annotation) if field is not None else None
    if model is None:
        return ""
    names = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    nearest = ".".join(str(part) for part in (*loc[:-1], *close[:1]))
    return f", did you mean '{nearest}'?" if close else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())

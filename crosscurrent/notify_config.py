"""The `notify:` section of the config: the alert lifecycle, receivers, routes, inhibition."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from crosscurrent.sections import Section

Lang = Literal["en", "zh", "both"]
URL_EXAMPLES = ("e.g. json://host:port/path, ntfy://topic, tgram://TOKEN/CHAT, or env:VAR / "
                "file:PATH that holds one")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an apprise URL, env:VAR or file:PATH (never quoting it: it may
    hold a secret); None if it may be one (apprise itself has the last word)."""
    kind, colon, rest = url.partition(":")
    if kind in ("env", "file") and colon:
        return None if rest.strip() else f"is {kind}: without a name after it"
    if not _SCHEME.match(url):
        return f"is not an apprise URL: it has no scheme:// ({URL_EXAMPLES})"
    return None


class Receiver(Section):
    """Where notifications go: apprise URLs. A URL may name an environment variable
    (`env:TELEGRAM_URL`) or a file (`file:/run/secrets/slack`) that holds it, so that secrets
    stay out of the config."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    urls: tuple[str, ...] = Field(min_length=1)
    lang: Lang = "both"
    per_minute: float = Field(60, gt=0)  # rate limit: notifications a minute at most
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    # Down a while: once this many notices wait, they go out as one summary when it is back
    # (None: each one, in order).
    summary_after: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _urls_have_a_form(self) -> Receiver:
        for number, url in enumerate(self.urls, start=1):
            problem = url_problem(url)
            if problem:
                raise ValueError(f"receiver {self.name}: URL #{number} {problem}")
        return self


class Route(Section):
    """Alerts matching `match` (e.g. `severity=critical ids=hk:*`) go to `receivers`; routes
    are tried in order and the first match wins unless it says `continue`."""

    match: str = ""
    receivers: tuple[str, ...] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue")


class Inhibit(Section):
    """While an alert matching `source` fires, alerts matching `target` that share one of its
    ids are muted (default: a critical mutes the related warnings and infos)."""

    source: str = "severity=critical"
    target: str = "severity=warning,info"


class Mute(Section):
    """Mute alerts matching `match` while every market of their ids is closed."""

    match: str
    closed_markets: bool = True


class NotifyConfig(Section):
    # The lifecycle, Alertmanager-style; times in seconds of event time (tape time on replay).
    for_s: float = Field(0, ge=0)  # pending: an alert must hold this long before it notifies
    keep_firing_for_s: float = Field(0, ge=0)  # a resolve waits this long: flaps absorbed
    group_by: tuple[Literal["detector", "severity", "key"], ...] = ("detector",)
    group_wait_s: float = Field(30, ge=0)  # the first notification of a group waits this long
    group_interval_s: float = Field(300, ge=0)  # later ones of the same group, at most this often
    repeat_interval_s: float | None = Field(None, gt=0)  # resend a still-firing alert (None: no)
    send_resolved: bool = True
    inhibit: tuple[Inhibit, ...] = ()
    mute: tuple[Mute, ...] = ()
    receivers: tuple[Receiver, ...] = ()
    routes: tuple[Route, ...] = ()

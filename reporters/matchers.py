"""Alert matchers for silences, routes, inhibition and mutes.

    detector=divergence ids=hk:* severity=warning,critical tags=defi

Every term must match; a term's values are alternatives (comma-separated) with shell-style
wildcards. A value with spaces is quoted as in a shell: `key='synthesis:risk:Crypto leverage
liquidation'` (or the whole term: "key=synthesis:risk:Crypto leverage liquidation").
`ids` matches when any id of the alert does; `tags` are the regions and categories of the
alert's ids (us, hk, cn, crypto, defi, macro, rwa, liquid-staking, ...).
"""

from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass

from crosscurrent.catalog import default_catalog
from crosscurrent.events import Alert

FIELDS = ("detector", "severity", "ids", "key", "tags", "state")


def tags(alert: Alert) -> set[str]:
    catalog = default_catalog()
    found: set[str] = set()
    for ident in alert.ids:
        instrument = catalog.get(ident)
        if instrument is not None:
            found.add(instrument.region)
            if instrument.category:
                found.add(instrument.category)
    return found


@dataclass(frozen=True)
class Matcher:
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Raises ValueError naming the bad term."""
        terms = []
        try:
            words = shlex.split(text)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"bad matcher {text!r}: {exc}") from None
        for term in words:
            field, sep, values = term.partition("=")
            if not sep or not values:
                raise ValueError(f"bad matcher term {term!r}: expected field=value")
            if field not in FIELDS:
                raise ValueError(f"bad matcher term {term!r}: field is one of "
                                 f"{', '.join(FIELDS)}")
            terms.append((field, tuple(v for v in values.split(",") if v)))
        return cls(tuple(terms))

    def __str__(self) -> str:
        """The matcher as it parses back (values with spaces quoted)."""
        return " ".join(shlex.quote(f"{field}={','.join(values)}")
                        for field, values in self.terms)

    def matches(self, alert: Alert) -> bool:
        return all(self._term(field, values, alert) for field, values in self.terms)

    @staticmethod
    def _term(field: str, patterns: tuple[str, ...], alert: Alert) -> bool:
        if field == "ids":
            candidates: set[str] = set(alert.ids)
        elif field == "tags":
            candidates = tags(alert)
        else:
            candidates = {str(getattr(alert, field))}
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)

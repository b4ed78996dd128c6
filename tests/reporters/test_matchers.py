"""Alert matchers (`reporters/matchers.py`): terms, wildcards, and values with spaces."""

from __future__ import annotations

import pytest

from crosscurrent.events import Alert, AlertState, Severity
from reporters.matchers import Matcher

RISK = Alert(ts=0, detector="synthesis", key="synthesis:risk:Crypto leverage liquidation",
             state=AlertState.FIRING, severity=Severity.WARNING, ids=("crypto:ETH",),
             title="Risk #2")


def test_a_key_with_spaces_matches_when_quoted_as_in_a_shell() -> None:
    for text in ("key='synthesis:risk:Crypto leverage liquidation'",
                 '"key=synthesis:risk:Crypto leverage liquidation" severity=warning',
                 "key='synthesis:risk:Crypto *'"):
        matcher = Matcher.parse(text)
        assert matcher.matches(RISK), text
        assert Matcher.parse(str(matcher)) == matcher  # it prints as it parses
    assert not Matcher.parse("key='synthesis:risk:RWA *'").matches(RISK)
    assert Matcher.parse("detector=synthesis tags=crypto").matches(RISK)


def test_bad_matchers_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="No closing quotation"):
        Matcher.parse("key='synthesis:risk:Crypto")
    with pytest.raises(ValueError, match="expected field=value"):
        Matcher.parse("synthesis")
    with pytest.raises(ValueError, match="field is one of detector"):
        Matcher.parse("colour=red")

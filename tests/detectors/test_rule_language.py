from __future__ import annotations

from pathlib import Path

import pytest

from crosscurrent.config import ConfigError, load_config
from detectors.rule_language import RuleError, compile_rule


class Values:
    def __init__(self, **values: float) -> None:
        self.values = {k.replace("__", ":"): v for k, v in values.items()}

    def change(self, ident: str) -> float | None:
        return self.values.get(f"change:{ident}")

    def price(self, ident: str) -> float | None:
        return self.values.get(f"price:{ident}")

    def value(self, ident: str) -> float | None:
        return self.values.get(ident)


ISSUE_RULE = 'change("crypto:ETH", "24h") > 0.06 and funding("ETH") > 0.0005'


def test_the_issue_example_evaluates() -> None:
    rule = compile_rule(ISSUE_RULE)
    assert rule.ids == {"crypto:ETH", "funding:ETH"}
    hot = Values(**{"change__crypto:ETH": 0.0605, "funding:ETH": 0.0007})
    assert rule.evaluate(hot) is True
    assert rule.evaluate(Values(**{"change__crypto:ETH": 0.0605, "funding:ETH": 0.0001})) \
        is False
    assert rule.evaluate(Values(**{"funding:ETH": 0.0007})) is None  # ETH's change unknown


def test_arithmetic_not_and_chained_comparisons() -> None:
    rule = compile_rule('not (price("hk:HSI") > 25000) or 0 < -value("cn:NORTHBOUND") / 1e8 < 50')
    assert rule.evaluate(Values(**{"price:hk:HSI": 26000.0, "cn:NORTHBOUND": -3e9})) is True
    assert rule.evaluate(Values(**{"price:hk:HSI": 26000.0, "cn:NORTHBOUND": -9e9})) is False
    assert compile_rule('value("cn:TURNOVER") / value("cn:ADVANCERS") > 1').evaluate(
        Values(**{"cn:TURNOVER": 1.0, "cn:ADVANCERS": 0.0})) is None  # division by zero


@pytest.mark.parametrize(("text", "expected"), [
    ('not price("hk:HSI") > 1', None),
    ('-value("cn:TURNOVER") < 1', None),
    ('price("hk:HSI") * 2 > 1', None),
    ('price("macro:VIX") > 1 or price("hk:HSI") > 1', None),  # every value known, or none
    ('2 < price("macro:VIX") < price("hk:HSI")', False),  # settled before the unknown one
    ('0 < price("macro:VIX") < price("hk:HSI")', None),
    ('price("macro:VIX") > 0', True),
])
def test_a_value_not_known_yet_leaves_what_needs_it_undecided(text: str,
                                                              expected: bool | None) -> None:
    assert compile_rule(text).evaluate(Values(**{"price:macro:VIX": 1.5,
                                                 "cn:TURNOVER": float("nan")})) is expected


@pytest.mark.parametrize(("text", "column", "message"), [
    ('change("crypto:ETH") >', 23, "syntax error"),
    ('chnage("crypto:ETH") > 1', 1, "unknown function 'chnage'"),
    ('change("crypto:NOPE") > 1', 8, "unknown instrument id 'crypto:NOPE'"),
    ('change(crypto) > 1', 8, "arguments are quoted strings"),
    ('change("crypto:ETH", "1w") > 1', 22, "window '1w'"),
    ('price("hk:HSI") > limit', 19, "unknown name 'limit'"),
    ('__import__("os").system("x")', 1, "only change, price, value, funding can be called"),
    ('[1][0] > 0', 1, "Subscript is not allowed"),
    ('"text" > 1', 1, "a string here is not a number"),
])
def test_bad_rules_say_where_and_what(text: str, column: int, message: str) -> None:
    with pytest.raises(RuleError) as error:
        compile_rule(text)
    assert error.value.column == column and message in str(error.value)


def test_a_bad_rule_stops_the_start_with_its_name_and_position(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("detectors:\n  rules:\n    - {name: eth-hot, when: 'change(\"ETH\") > 1'}\n")
    with pytest.raises(ConfigError) as error:
        load_config(config, env={})
    assert "rule 'eth-hot', column 8: unknown instrument id 'ETH'" in str(error.value)

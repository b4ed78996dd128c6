from __future__ import annotations

from reporters.macro_view import quote


def test_each_macro_id_is_written_in_its_own_unit() -> None:
    assert quote("macro:US10Y", 4.312, 4.251, 1.43).text() == "US 10-year 4.31% (+6 bp)"
    assert quote("macro:USDCNH", 7.2431, 7.2105, 0.45).text() == "USD/CNH 7.2431 (+0.45%)"
    assert quote("macro:VIX", 21.4, 16.4, 30.49).text(zh=True) == "VIX 21.40 (+30.49%)"
    gold = quote("macro:GOLD", 3021.4, 2990.1, -1.05)
    assert (gold.text(zh=True), gold.sign, gold.ticker) == ("黄金 3,021 (-1.05%)", -1, "Gold")
    assert quote("macro:US10Y", 4.3, None, None).move == "n/a"

from __future__ import annotations

from crosscurrent.events import Alert, AlertState, Severity
from reporters.report_flows import divergences
from reporters.report_model import Row


def row(ident: str, change: float) -> Row:
    return Row(id=ident, name=ident, name_zh=ident, last=1.0, change=change, high=1.0, low=1.0,
               open=1.0, window="since previous close")


def test_a_divergence_row_says_one_gap_the_reports() -> None:
    """The alert fired on a 6.48 pp lead; at the close the gap is 6.00 pp: the row's
    magnitude, gap and explanation all say the close's, never the alert's beside it."""
    alert = Alert(ts=0, detector="divergence", key="divergence:crypto:BTC/hk:HSTECH",
                  state=AlertState.FIRING, severity=Severity.CRITICAL,
                  ids=("crypto:BTC", "hk:HSTECH"), title="t",
                  values={"change_a": -9.0, "change_b": -2.52, "gap": -6.48},
                  notes={"explanation": "Hang Seng TECH leads Bitcoin by 6.48 pp",
                         "explanation_zh": "恒生科技领先比特币 6.48 个百分点",
                         "side_a": "Bitcoin", "side_a_zh": "比特币",
                         "side_b": "Hang Seng TECH", "side_b_zh": "恒生科技"})
    rows = {"crypto:BTC": row("crypto:BTC", -14.0), "hk:HSTECH": row("hk:HSTECH", -8.0)}
    (found,) = divergences({alert.key: alert}, rows, [])
    assert found.magnitude == "Bitcoin -14.00% vs Hang Seng TECH -8.00%" and found.gap == -6.0
    assert found.explanation == "Hang Seng TECH leads Bitcoin by 6.00 pp"
    assert found.explanation_zh == "恒生科技领先比特币 6.00 个百分点"

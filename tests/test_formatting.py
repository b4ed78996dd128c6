from __future__ import annotations

from crosscurrent.formatting import compact, money


def test_numbers_read_naturally() -> None:
    assert [compact(v) for v in (2.53e12, 184.2e9, 640e6, 71917.4, 4.334)] == [
        "2.53T", "184.20B", "640.00M", "71,917", "4.33"]
    assert money(640e6) == "$640.00M" and money(-2.02e9) == "-$2.02B"

"""The macro ids as a morning note writes them: VIX level, the 10-year yield in percent with
its move in basis points, the yuan to four decimals, and what each move says."""

from __future__ import annotations

from dataclasses import dataclass

from crosscurrent.formatting import compact, pct
from detectors.macro import basis_points

# id -> (label, Chinese label, ticker for a one-line strip), in the order a note reads them
LABELS = {"macro:VIX": ("VIX", "VIX", "VIX"), "macro:US10Y": ("US 10-year", "美债十年期", "10Y"),
          "macro:DXY": ("dollar index", "美元指数", "DXY"),
          "macro:USDCNH": ("USD/CNH", "美元/离岸人民币", "CNH"),
          "macro:GOLD": ("gold", "黄金", "Gold"), "macro:WTI": ("WTI", "原油", "WTI")}


@dataclass(frozen=True)
class Quote:
    """One macro id, formatted: `level` "4.33%", `move` "+2 bp", `sign` of the move."""

    ident: str
    level: str
    move: str
    sign: int

    @property
    def label(self) -> str:
        return LABELS[self.ident][0]

    @property
    def label_zh(self) -> str:
        return LABELS[self.ident][1]

    @property
    def ticker(self) -> str:
        return LABELS[self.ident][2]

    def text(self, zh: bool = False) -> str:
        return f"{self.label_zh if zh else self.label} {self.level} ({self.move})"


def quote(ident: str, last: float, prev_close: float | None, change: float | None) -> Quote:
    if ident == "macro:US10Y":
        bp = basis_points(last, prev_close)
        move = "n/a" if bp is None else f"{bp:+.0f} bp"
        return Quote(ident, f"{last:.2f}%", move, _sign(bp))
    level = f"{last:.4f}" if ident == "macro:USDCNH" else \
        f"{last:.2f}" if ident in ("macro:VIX", "macro:DXY", "macro:WTI") else compact(last)
    return Quote(ident, level, pct(change), _sign(change))


def _sign(value: float | None) -> int:
    return 0 if not value else 1 if value > 0 else -1

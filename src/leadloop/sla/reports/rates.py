"""Rates with their counts: the 95 % Wilson score interval and the sample-size labels every
rate carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

Z: Final = 1.96  # 95 %


NOT_ENOUGH_DATA: Final = 10  # fewer in the denominator: no rate is shown


SMALL_SAMPLE: Final = 30  # fewer: the rate is marked "small sample"


Sample = Literal["none", "not_enough_data", "small_sample", "ok"]


def wilson_interval(count: int, n: int, *, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval of `count` successes in `n` (METRICS.md, "Honesty rules"):
    ``(p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; None when `n` is 0."""
    if n <= 0:
        return None
    p = count / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


@dataclass(frozen=True)
class Share:
    """A rate with the count behind it ("12 of 14") and its 95 % Wilson interval."""

    count: int
    of: int

    @property
    def value(self) -> float | None:
        """None when nothing is counted: "no data" is not 0 %."""
        return self.count / self.of if self.of else None

    @property
    def low(self) -> float | None:
        interval = wilson_interval(self.count, self.of)
        return interval[0] if interval else None

    @property
    def high(self) -> float | None:
        interval = wilson_interval(self.count, self.of)
        return interval[1] if interval else None

    @property
    def sample(self) -> Sample:
        if self.of == 0:
            return "none"
        if self.of < NOT_ENOUGH_DATA:
            return "not_enough_data"
        return "small_sample" if self.of < SMALL_SAMPLE else "ok"

    @property
    def percent(self) -> int | None:
        """The rate in whole percent as shown; None below ten ("not enough data")."""
        if self.value is None or self.of < NOT_ENOUGH_DATA:
            return None
        return round(100 * self.value)

    @property
    def text(self) -> str:
        return f"{self.count} of {self.of}"

    @property
    def title(self) -> str:
        """The hover text: the count, the rate and its interval, or why there is no rate."""
        if self.of == 0:
            return "Nothing counted yet"
        if self.of < NOT_ENOUGH_DATA:
            return f"{self.text}: fewer than {NOT_ENOUGH_DATA}, not enough data for a rate"
        low, high = self.low or 0.0, self.high or 0.0
        small = "; small sample" if self.of < SMALL_SAMPLE else ""
        return (
            f"{self.text} ({self.percent} %); 95 % Wilson interval "
            f"{round(100 * low)}-{round(100 * high)} %{small}"
        )

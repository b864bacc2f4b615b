"""The SLO model and window parsing, shared by the TOML config loader and the OpenSLO reader.

Both :mod:`traceana.config` and :mod:`traceana.openslo` build :class:`SLO`
objects from their documents; the model lives here so that neither has to
import the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from traceana.errors import ConfigError, did_you_mean
from traceana.filters import Filter

OPS = ("lte", "lt", "gte", "gt")
DEFAULT_PERIOD_S = 30 * 86400.0

#: names users bring from OpenSLO or other tools, mapped to ours for the did-you-mean hint
_ALIASES = {
    "target": "objective",
    "targetPercent": "objective",
    "timeWindow": "period",
    "window": "period",
    "value": "threshold",
    "indicator": "metric",
    "price": "gpu_prices",
    "deployments": "deployment",
    "slos": "slo",
    "model_shapes": "model_shape",
}


def _did_you_mean(word: str, choices) -> str:
    return did_you_mean(word, choices, _ALIASES)


# --------------------------------------------------------------------------- durations

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str, key: str = "period", path: str | None = None) -> float:
    """A window or SLO period like '30d', '28d', '7d', '1h', '5m', '90s', '2w' as seconds."""
    m = _PERIOD.match(str(text))
    if not m:
        raise ConfigError(
            f"{text!r} is not a duration. Allowed: a number with s, m, h, d or w (e.g. 30d, 1h)", key, path
        )
    seconds = float(Fraction(m.group(1)) * _PERIOD_UNITS[m.group(2)])
    if not 0 < seconds <= 100 * 365 * 86400:  # a period of 0 would make every SLO trivially met
        raise ConfigError(
            f"{text!r} is out of range. Allowed: a duration > 0 and at most 100 years (e.g. 30d, 1h)",
            key,
            path,
        )
    return seconds


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class SLO:
    """A request-based SLO (OpenSLO budgetingMethod Occurrences).

    A request is good when status == "ok", ``metric <op> threshold`` holds (if a
    metric is set) and ``good_filter`` matches (if set). ``total_filter`` limits
    which requests the SLO counts at all.
    """

    name: str
    objective: float
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    period_s: float = DEFAULT_PERIOD_S
    good_filter: Filter | None = None
    description: str = ""
    total_filter: Filter | None = None

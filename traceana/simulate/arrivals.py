"""Arrival processes: Poisson with a rate profile, bursty renewal processes, token lengths.

Every generator takes a ``numpy.random.Generator`` (never a global seed) and
returns an :class:`Arrivals`: arrival times in seconds since ``t0_epoch_s``,
sorted, rounded to the microsecond (the canonical timestamp resolution, so a
simulated arrival round-trips through ``timestamp[us]`` exactly), and token
counts per request. Replay of real traces lives in :mod:`traceana.simulate.replay`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import gamma as gamma_fn

import numpy as np

from traceana.errors import TraceanaError

DAY_S = 86400.0


@dataclass(frozen=True)
class Arrivals:
    """Requests to offer the fleet, sorted by arrival.

    ``t_s``: arrival, seconds since ``t0_epoch_s`` (float64, microsecond grid).
    ``prompt_tokens`` / ``output_tokens``: int64 token counts (output = tokens the
    request would generate if it runs to completion). ``model``: optional int
    index into ``models`` (the model the client asked for). ``cached_tokens``:
    optional prefix-cache hits per request; ``max_tokens``: optional client limit
    (a request that generates exactly max_tokens finishes with "length").
    """

    t_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    t0_epoch_s: float = 0.0
    model: np.ndarray | None = None
    models: tuple[str, ...] = ()
    source: str = "synthetic"
    cached_tokens: np.ndarray | None = None
    max_tokens: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if len(self.prompt_tokens) != n or len(self.output_tokens) != n:
            raise TraceanaError("Arrivals: t_s, prompt_tokens and output_tokens must have the same length")
        if n and np.any(np.diff(self.t_s) < 0):
            raise TraceanaError("Arrivals: t_s must be sorted. Hint: use Arrivals.sorted(...)")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) else 0.0

    @staticmethod
    def sorted(t_s, prompt_tokens, output_tokens, **kw) -> Arrivals:
        """Build from unsorted arrays (stable sort by time; microsecond grid)."""
        t = np.round(np.asarray(t_s, dtype=np.float64) * 1e6) / 1e6
        order = np.argsort(t, kind="stable")
        opt = {
            k: (None if kw.get(k) is None else np.asarray(kw.pop(k), dtype=np.int64)[order])
            for k in ("model", "cached_tokens", "max_tokens")
        }
        for k in ("model", "cached_tokens", "max_tokens"):
            kw.pop(k, None)
        return Arrivals(
            t_s=t[order],
            prompt_tokens=np.asarray(prompt_tokens, dtype=np.int64)[order],
            output_tokens=np.asarray(output_tokens, dtype=np.int64)[order],
            **opt,
            **kw,
        )

    def per_minute_rates(self) -> np.ndarray:
        """Arrivals per second in each whole minute from the first arrival (req/s)."""
        if not len(self.t_s):
            return np.zeros(0)
        rel = self.t_s - self.t_s[0]
        counts = np.bincount((rel // 60.0).astype(np.int64))
        return counts / 60.0


def diurnal_profile(
    mean_rate: float,
    peak_hour: float = 14.0,
    trough_ratio: float = 0.2,
    bursts: tuple[tuple[float, float, float], ...] = (),
) -> Callable[[np.ndarray], np.ndarray]:
    """A rate profile (req/s) over a day with one smooth peak, plus bursts.

    Formula:
        rate(t) = mean_rate * (trough + (1 - trough) * (1 + cos(2 pi (h - peak_hour) / 24)) / 2) / norm
                  + sum(extra for (start_s, end_s, extra) in bursts if start_s <= t < end_s)
    with h = (t mod 86400) / 3600 and norm the day-average of the bracket, so the
    day-average of the smooth part is ``mean_rate``.
    """
    if mean_rate <= 0 or not 0 <= trough_ratio <= 1:
        raise TraceanaError("diurnal_profile: mean_rate must be > 0 and trough_ratio in [0, 1]")
    norm = trough_ratio + (1 - trough_ratio) / 2

    def rate(t: np.ndarray) -> np.ndarray:
        h = np.mod(t, DAY_S) / 3600.0
        shape = trough_ratio + (1 - trough_ratio) * (1 + np.cos(2 * np.pi * (h - peak_hour) / 24.0)) / 2
        r = mean_rate * shape / norm
        for start, end, extra in bursts:
            r = r + np.where((t >= start) & (t < end), extra, 0.0)
        return r

    return rate


def poisson_arrivals(
    rate: Callable[[np.ndarray], np.ndarray] | float,
    duration_s: float,
    rng: np.random.Generator,
    grid_s: float = 1.0,
) -> np.ndarray:
    """Non-homogeneous Poisson arrival times on [0, duration_s), sorted (s).

    Inversion of the cumulative intensity: with Lambda(t) = integral of rate
    (trapezoid on a ``grid_s`` grid), N ~ Poisson(Lambda(T)) unit-rate points
    are placed uniformly on [0, Lambda(T)) and mapped back through Lambda^-1
    (linear interpolation). Exact for a piecewise-linear rate.
    """
    if duration_s <= 0:
        raise TraceanaError("poisson_arrivals: duration_s must be > 0")
    if not callable(rate):
        const = float(rate)
        n = rng.poisson(const * duration_s)
        return np.sort(rng.uniform(0.0, duration_s, n))
    grid = np.arange(0.0, duration_s + grid_s, grid_s)
    grid[-1] = duration_s
    r = np.maximum(np.asarray(rate(grid), dtype=np.float64), 0.0)
    cum = np.concatenate(([0.0], np.cumsum((r[1:] + r[:-1]) / 2 * np.diff(grid))))
    n = rng.poisson(cum[-1])
    u = np.sort(rng.uniform(0.0, cum[-1], n))
    return np.interp(u, cum, grid)


def renewal_arrivals(
    rate: float,
    n: int,
    rng: np.random.Generator,
    kind: str = "gamma",
    cv: float = 2.0,
) -> np.ndarray:
    """Arrival times of a renewal process with mean rate ``rate`` (req/s), n arrivals (s).

    ``kind="gamma"``: inter-arrivals Gamma(k, 1/(k*rate)) with k = 1/cv^2
    (cv > 1 is bursty, cv = 1 is Poisson; vLLM bench's ``--burstiness`` is k).
    ``kind="weibull"``: Weibull(k) scaled to mean 1/rate, with k chosen by the
    caller through ``cv`` ~ 1/k (k = 1/cv; k < 1 is bursty).
    """
    if rate <= 0 or n < 0 or cv <= 0:
        raise TraceanaError("renewal_arrivals: rate and cv must be > 0, n >= 0")
    if kind == "gamma":
        k = 1.0 / cv**2
        gaps = rng.gamma(k, 1.0 / (k * rate), n)
    elif kind == "weibull":
        k = 1.0 / cv
        gaps = rng.weibull(k, n) / (rate * gamma_fn(1 + 1 / k))
    else:
        raise TraceanaError(f"renewal_arrivals: unknown kind '{kind}'. Hint: one of ['gamma', 'weibull']")
    return np.cumsum(gaps) - gaps[0] if n else gaps


def lognormal_tokens(
    n: int, median: float, sigma: float, lo: int, hi: int, rng: np.random.Generator
) -> np.ndarray:
    """Token counts ~ lognormal(log(median), sigma), rounded and clipped to [lo, hi]."""
    x = rng.lognormal(np.log(median), sigma, n)
    return np.clip(np.rint(x), lo, hi).astype(np.int64)

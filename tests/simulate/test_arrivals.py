"""Arrival processes against their defining numbers."""

from __future__ import annotations

import numpy as np
import pytest

from traceana.errors import TraceanaError
from traceana.simulate.arrivals import Arrivals, diurnal_profile, poisson_arrivals, renewal_arrivals


def test_diurnal_profile_day_average_and_peak():
    rate = diurnal_profile(2.0, peak_hour=14.0, trough_ratio=0.2, bursts=((3600.0, 7200.0, 5.0),))
    t = np.arange(0, 86400, 1.0)
    r = rate(t)
    burst = (t >= 3600) & (t < 7200)
    assert (r[~burst].sum() + (r[burst] - 5.0).sum()) / 86400 == pytest.approx(2.0, rel=1e-6)
    assert t[np.argmax(np.where(burst, 0, r))] == 14 * 3600
    # trough / peak = trough_ratio
    smooth = r - np.where(burst, 5.0, 0.0)
    assert smooth.min() / smooth.max() == pytest.approx(0.2, rel=1e-6)


def test_poisson_counts_follow_the_rate():
    rng = np.random.default_rng(4)
    t = poisson_arrivals(lambda x: np.where(x < 500, 10.0, 2.0), 1000.0, rng)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 1000
    first, second = (t < 500).sum(), (t >= 500).sum()
    assert abs(first - 5000) < 4 * np.sqrt(5000) and abs(second - 1000) < 4 * np.sqrt(1000)


@pytest.mark.parametrize("kind", ["gamma", "weibull"])
def test_renewal_mean_rate(kind):
    t = renewal_arrivals(5.0, 200_000, np.random.default_rng(2), kind=kind, cv=2.0)
    gaps = np.diff(t)
    assert gaps.mean() == pytest.approx(0.2, rel=0.03)
    if kind == "gamma":
        assert gaps.std() / gaps.mean() == pytest.approx(2.0, rel=0.05)


def test_arrivals_validation():
    with pytest.raises(TraceanaError, match="sorted"):
        Arrivals(np.array([2.0, 1.0]), np.array([1, 1]), np.array([1, 1]))
    a = Arrivals.sorted([2.0000004, 1.0], [5, 6], [7, 8])
    assert a.t_s.tolist() == [1.0, 2.0] and a.prompt_tokens.tolist() == [6, 5]  # microsecond grid, sorted
    with pytest.raises(TraceanaError):
        renewal_arrivals(1.0, 10, np.random.default_rng(0), kind="pareto")

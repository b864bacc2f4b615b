"""compare statistics against independent references: scipy.stats, exact simulation, published numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traceana.compare import stats as st

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("n1,n2,ties", [(5, 7, False), (40, 30, False), (300, 200, True), (2000, 1500, True)])
def test_mann_whitney_equals_scipy(n1, n2, ties):
    rng = np.random.default_rng(n1 + n2)
    x, y = rng.exponential(1.0, n1), rng.exponential(1.2, n2)
    if ties:
        x, y = np.round(x, 1), np.round(y, 1)
    u, p, effect = st.mann_whitney(np.sort(x), np.sort(y))
    ref = scipy_stats.mannwhitneyu(x, y, method="asymptotic")
    assert u == pytest.approx(ref.statistic, abs=1e-6)
    assert abs(p - ref.pvalue) <= 1e-9
    assert effect == pytest.approx(1 - ref.statistic / (n1 * n2))


@pytest.mark.parametrize("n1,n2,shift", [(6, 9, 0.0), (50, 40, 0.3), (400, 300, 0.1), (1500, 2000, 0.05)])
def test_ks_exact_equals_scipy(n1, n2, shift):
    rng = np.random.default_rng(n1 * n2)
    x, y = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
    d, p, method = st.ks_2samp(np.sort(x), np.sort(y))
    ref = scipy_stats.ks_2samp(x, y, method="exact")
    assert method == "exact"
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert abs(p - ref.pvalue) <= 1e-9


def test_ks_asymptotic_equals_kolmogorov_distribution():
    rng = np.random.default_rng(3)
    x, y = np.sort(rng.normal(0, 1, 3000)), np.sort(rng.normal(0.05, 1, 2500))
    d, p, method = st.ks_2samp(x, y)
    assert method == "asymptotic"
    assert d == pytest.approx(scipy_stats.ks_2samp(x, y).statistic, abs=1e-12)
    en = 3000 * 2500 / 5500
    assert abs(p - scipy_stats.kstwobign.sf(math.sqrt(en) * d)) <= 1e-9
    for z in (0.2, 0.5, 0.9, 1.0, 1.3, 2.5):
        assert abs(st.kolmogorov_sf(z) - scipy_stats.kstwobign.sf(z)) <= 1e-9


def test_newcombe_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, 56/70 vs 48/80: method 10 gives 0.0524 to 0.3339
    d = st.newcombe(48, 80, 56, 70)
    assert d.estimate == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=5e-5)
    assert d.high == pytest.approx(0.3339, abs=5e-5)
    assert d.p_value < 0.05  # the interval excludes 0
    # the p-value is the level at which the interval touches 0
    z = st.normal_ppf(1 - d.p_value / 2)
    assert st._newcombe_at(48, 80, 56, 70, z)[0] == pytest.approx(0.0, abs=1e-9)


def test_wilson_equals_closed_form_reference():
    # Wilson (1927) for 0 of 20 at 95%: upper bound z^2 / (n + z^2) = 0.1611
    assert st.wilson(0, 20, 1.959963984540054)[1] == pytest.approx(0.16112, abs=1e-5)


def test_normal_helpers_equal_scipy():
    for z in (-3.0, 0.0, 1.96, 5.0, 9.0):
        assert st.normal_sf(z) == pytest.approx(scipy_stats.norm.sf(z), rel=1e-12)
    for p in (0.025, 0.5, 0.975, 0.9995):
        assert st.normal_ppf(p) == pytest.approx(scipy_stats.norm.ppf(p), abs=1e-10)


def test_order_statistic_bootstrap_has_the_index_bootstrap_distribution():
    """The O(B) draws match np.quantile over explicit resamples (a brute-force bootstrap)."""
    rng = np.random.default_rng(5)
    x = np.sort(rng.lognormal(0, 1, 200))
    fast = st.bootstrap_quantiles(x, 0.9, 20000, np.random.default_rng(1))
    idx = np.random.default_rng(2).integers(0, len(x), size=(20000, len(x)))
    slow = np.quantile(x[idx], 0.9, axis=1)
    for level in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert np.quantile(fast, level) == pytest.approx(np.quantile(slow, level), rel=0.01)
    assert fast.mean() == pytest.approx(slow.mean(), rel=0.005)


def test_p99_difference_interval_covers_the_truth_92_to_98_percent():
    """400 simulated pairs from known distributions (lognormal base, shifted candidate; exponential pairs)."""
    pairs, n = 200, 2000
    rng, boot = np.random.default_rng(19), np.random.default_rng(20)
    z99 = 2.3263478740408408
    cases = [
        (
            rng.lognormal(0.0, 0.5, (pairs, n)),
            rng.lognormal(0.1, 0.5, (pairs, n)),
            math.exp(0.1 + 0.5 * z99) - math.exp(0.5 * z99),
        ),
        (rng.exponential(1.0, (pairs, n)), rng.exponential(1.2, (pairs, n)), (1.2 - 1.0) * math.log(100)),
    ]
    covered = 0
    for b, c, truth in cases:
        b.sort(axis=1)
        c.sort(axis=1)
        for i in range(pairs):
            d = st.quantile_diff(b[i], c[i], 0.99, boot)
            covered += d.low <= truth <= d.high
    assert 0.92 <= covered / (2 * pairs) <= 0.98


def test_equal_distributions_give_no_significant_change_after_holm():
    """400 pairs from one distribution: p50/p90/p99 and the Mann-Whitney shift, Holm-adjusted per pair."""
    pairs, n = 400, 1500
    rng, boot = np.random.default_rng(23), np.random.default_rng(24)
    b = np.sort(rng.gamma(2.0, 0.2, (pairs, n)), axis=1)
    c = np.sort(rng.gamma(2.0, 0.2, (pairs, n)), axis=1)
    k1, k2 = rng.binomial(n, 0.02, pairs), rng.binomial(n, 0.02, pairs)
    quiet = 0
    for i in range(pairs):
        ps = [st.quantile_diff(b[i], c[i], q, boot).p_value for q in (0.5, 0.9, 0.99)]
        ps.append(st.mann_whitney(b[i], c[i])[1])
        ps.append(st.newcombe(int(k1[i]), n, int(k2[i]), n).p_value)
        quiet += all(p >= 0.05 for p in st.holm(ps))
    assert quiet / pairs >= 0.94


def test_holm_and_bh_equal_a_brute_force_definition():
    p = [0.01, 0.04, 0.03, 0.005, None, 0.5]
    vals = [x for x in p if x is not None]
    m = len(vals)
    order = sorted(vals)
    holm_ref = {v: max(min(1, (m - j) * order[j]) for j in range(order.index(v) + 1)) for v in vals}
    bh_ref = {v: min(min(1, m * order[j] / (j + 1)) for j in range(order.index(v), m)) for v in vals}
    assert st.holm(p) == [holm_ref[x] if x is not None else None for x in p]
    assert st.benjamini_hochberg(p) == pytest.approx([bh_ref[x] if x is not None else None for x in p])

"""Two-sample statistics for ``traceana compare``: numpy only (scipy is a test-time reference).

Every function takes plain numpy arrays or counts and returns floats; nothing
here knows about requests. Conventions: ``d = candidate - base``; intervals are
two-sided at ``confidence``; p-values are two-sided.

- :func:`quantile_diff` - bootstrap interval for a difference of quantiles,
  vectorized through order statistics (no resample loop, no index matrix).
- :func:`newcombe` - Newcombe's hybrid score interval for p2 - p1 (Wilson on
  each side), and the p-value found by inverting it.
- :func:`rate_diff` / :func:`mean_diff` - normal intervals for differences of
  rates (compound Poisson) and means (Welch).
- :func:`mann_whitney` / :func:`ks_2samp` - distribution-shift tests.
- :func:`holm` / :func:`benjamini_hochberg` - multiple-comparison adjustment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_STANDARD_NORMAL = NormalDist()

#: resamples per bootstrap interval (the Monte Carlo error of a 2.5% bound is ~0.35 points)
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Diff:
    """A difference candidate - base with its interval and a two-sided p-value (None: not computable)."""

    estimate: float | None
    low: float | None
    high: float | None
    p_value: float | None


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (erfc keeps the tail accurate)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """The standard normal quantile (the standard library's ``NormalDist.inv_cdf``, Wichura's AS241)."""
    return _STANDARD_NORMAL.inv_cdf(p)


def _z_p(estimate: float, se: float) -> float:
    if se > 0:
        return min(1.0, 2.0 * normal_sf(abs(estimate) / se))
    return 1.0 if estimate == 0 else 0.0


def linear_quantile(sorted_x: np.ndarray, q: float) -> float:
    """numpy ``method="linear"``: x_(k) + f (x_(k+1) - x_(k)), h = (n - 1) q, k = floor(h), f = h - k."""
    n = len(sorted_x)
    h = (n - 1) * q
    k = int(math.floor(h))
    f = h - k
    lo = float(sorted_x[k])
    if f == 0 or k + 1 >= n:
        return lo
    hi = float(sorted_x[k + 1])
    return lo if hi == lo else lo + (hi - lo) * f


def bootstrap_quantiles(
    sorted_x: np.ndarray, q: float, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``resamples`` draws of the linear q-quantile of a bootstrap resample of ``sorted_x``, exactly, in O(resamples).

    Formula (ordinary nonparametric bootstrap, without materializing resamples):
        a resample is x_(ceil(n U_i)) for n iid uniforms U_i, and ceil is monotone, so
        its k-th order statistic is x_(ceil(n U_(k))) with U_(k) ~ Beta(k, n - k + 1);
        given U_(k) = u the next one is U_(k+1) = u + (1 - u) Beta(1, n - k).
        The linear quantile at h = (n - 1) q, k = floor(h) + 1 (1-based), f = h - floor(h):
        x_(j1) + f (x_(j2) - x_(j1)), j1 = ceil(n U_(k)), j2 = ceil(n U_(k+1)).
    The result has the same distribution as np.quantile over an index-matrix bootstrap.
    """
    n = len(sorted_x)
    h = (n - 1) * q
    k = int(math.floor(h)) + 1
    f = h - (k - 1)
    u1 = rng.beta(k, n - k + 1, size=resamples)
    j1 = np.clip(np.ceil(n * u1).astype(np.int64), 1, n) - 1
    lo = sorted_x[j1]
    if f == 0 or k >= n:
        return lo.astype(np.float64)
    u2 = u1 + (1.0 - u1) * rng.beta(1, n - k, size=resamples)
    j2 = np.clip(np.ceil(n * u2).astype(np.int64), 1, n) - 1
    hi = sorted_x[j2]
    with np.errstate(invalid="ignore"):
        return np.where(hi == lo, lo, lo + (hi - lo) * f)


def quantile_diff(
    base_sorted: np.ndarray,
    cand_sorted: np.ndarray,
    q: float,
    rng: np.random.Generator,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> Diff:
    """Bootstrap (percentile method, fixed-seed ``rng``) interval for Q_cand(q) - Q_base(q).

    Method: each side is resampled independently by :func:`bootstrap_quantiles`
    (exact order-statistic draws from the sorted samples; vectorized over the
    resamples); the interval is the (a/2, 1 - a/2) quantiles of the resampled
    differences, a = 1 - confidence. The p-value is the normal one from the
    bootstrap standard error, p = 2 P(Z > |d| / se*), which is smooth where a
    resample count would be coarse (Holm needs p-values far below 1 / resamples).
    An infinite quantile on either side (user-visible percentiles past the
    failed requests) has no interval: all fields but the estimate are None.
    """
    est_b, est_c = linear_quantile(base_sorted, q), linear_quantile(cand_sorted, q)
    est = est_c - est_b
    if not (math.isfinite(est_b) and math.isfinite(est_c)):
        return Diff(est if math.isfinite(est) else None, None, None, None)
    d = bootstrap_quantiles(cand_sorted, q, resamples, rng) - bootstrap_quantiles(
        base_sorted, q, resamples, rng
    )
    d = d[np.isfinite(d)]
    if len(d) < resamples // 2:
        return Diff(est, None, None, None)
    a = 1.0 - confidence
    low, high = np.quantile(d, [a / 2, 1 - a / 2])
    return Diff(est, float(low), float(high), _z_p(est, float(np.std(d, ddof=1))))


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for k successes in n: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def _newcombe_at(k1: int, n1: int, k2: int, n2: int, z: float) -> tuple[float, float]:
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p2 - p1
    return d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def newcombe(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Diff:
    """Newcombe's hybrid score interval (his method 10) for p2 - p1, p_i = k_i / n_i.

    Formula, with Wilson intervals (l_i, u_i) at z = z_(1 - a/2):
        low  = d - sqrt((p2 - l2)² + (u1 - p1)²),  high = d + sqrt((u2 - p2)² + (p1 - l1)²),  d = p2 - p1.
    p-value: the a at which the (1 - a) interval just touches 0 (bisection on z),
    so p < 0.05 exactly when the 95% interval excludes 0. None when n1 or n2 is 0.
    """
    if n1 == 0 or n2 == 0:
        return Diff(None, None, None, None)
    d = k2 / n2 - k1 / n1
    low, high = _newcombe_at(k1, n1, k2, n2, normal_ppf(1 - (1 - confidence) / 2))
    if d == 0:
        return Diff(0.0, low, high, 1.0)

    def excludes(z: float) -> bool:
        lo, hi = _newcombe_at(k1, n1, k2, n2, z)
        return lo > 0 or hi < 0

    lo_z, hi_z = 0.0, 40.0
    if excludes(hi_z):
        return Diff(d, low, high, 0.0)
    for _ in range(100):
        mid = 0.5 * (lo_z + hi_z)
        if excludes(mid):
            lo_z = mid
        else:
            hi_z = mid
    return Diff(d, low, high, min(1.0, 2.0 * normal_sf(hi_z)))


def rate_diff(
    sum1: float, sumsq1: float, t1: float, sum2: float, sumsq2: float, t2: float, confidence: float = 0.95
) -> Diff:
    """Difference of rates r_i = sum_i / t_i with arrivals as a (compound) Poisson process.

    Formula: Var(r_i) = sumsq_i / t_i² (for a count rate sumsq = sum = n, i.e. Poisson);
    d = r2 - r1, se = sqrt(Var1 + Var2), interval d ± z se, p = 2 P(Z > |d| / se).
    Throughput (requests/s, tokens/s), goodput and the time-average concurrency
    sum(e2e) / T are all of this form. None when a window has no length.
    """
    if not (t1 > 0 and t2 > 0):
        return Diff(None, None, None, None)
    d = sum2 / t2 - sum1 / t1
    se = math.sqrt(sumsq1 / t1**2 + sumsq2 / t2**2)
    z = normal_ppf(1 - (1 - confidence) / 2)
    return Diff(d, d - z * se, d + z * se, _z_p(d, se))


def mean_diff(x1: np.ndarray, x2: np.ndarray, confidence: float = 0.95) -> Diff:
    """Welch's difference of means: d = mean2 - mean1, se = sqrt(s1²/n1 + s2²/n2), d ± z se (normal, n >= 2 each)."""
    n1, n2 = len(x1), len(x2)
    if n1 < 2 or n2 < 2:
        return Diff(None, None, None, None)
    d = float(np.mean(x2) - np.mean(x1))
    se = math.sqrt(float(np.var(x1, ddof=1)) / n1 + float(np.var(x2, ddof=1)) / n2)
    z = normal_ppf(1 - (1 - confidence) / 2)
    return Diff(d, d - z * se, d + z * se, _z_p(d, se))


@dataclass(frozen=True)
class Merged:
    """Two sorted samples merged once, for both rank tests: O(n) from the two runs.

    ``from_x[i]``: the i-th pooled value (ascending) came from x; ``ends``: one past
    the last position of each group of equal values, ascending.
    """

    n1: int
    n2: int
    from_x: np.ndarray
    ends: np.ndarray


def merge_sorted(x_sorted: np.ndarray, y_sorted: np.ndarray) -> Merged:
    both = np.concatenate((x_sorted, y_sorted))
    order = np.argsort(both, kind="stable")  # timsort merges the two ascending runs in linear time
    values = both[order]
    ends = np.flatnonzero(np.concatenate((values[1:] != values[:-1], [True]))) + 1
    return Merged(len(x_sorted), len(y_sorted), order < len(x_sorted), ends)


def mann_whitney(
    x_sorted: np.ndarray, y_sorted: np.ndarray, merged: Merged | None = None
) -> tuple[float, float, float]:
    """Two-sided Mann-Whitney U test, normal approximation with tie and continuity corrections.

    Formula (= scipy.stats.mannwhitneyu(x, y, method="asymptotic")):
        U1 = R1 - n1 (n1 + 1) / 2, R1 = sum of the midranks of x in x ∪ y;
        sigma = sqrt(n1 n2 / 12 ((n + 1) - sum(t³ - t) / (n (n - 1)))), t = tie group sizes;
        z = (max(U1, n1 n2 - U1) - n1 n2 / 2 - 1/2) / sigma, p = min(1, 2 P(Z > z)).
    Returns (U1, p, common-language effect P(y > x) + P(y = x) / 2 = 1 - U1 / (n1 n2)).
    Midranks per tie group from the merged sample (:func:`merge_sorted`): a group
    spanning positions (a, b] has midrank (a + b + 1) / 2; R1 = sum over groups of
    midrank x (x's count in the group).
    """
    n1, n2 = len(x_sorted), len(y_sorted)
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan"), float("nan")
    m = merged or merge_sorted(x_sorted, y_sorted)
    starts = np.concatenate(([0], m.ends[:-1]))
    t_int = m.ends - starts
    if len(t_int) == n1 + n2:  # no ties: the midrank of position i is i + 1
        r1 = float(np.sum(np.flatnonzero(m.from_x) + 1, dtype=np.float64))
    else:
        midrank = np.repeat((starts + m.ends + 1) / 2.0, t_int)
        r1 = float(midrank[m.from_x].sum())
    u1 = r1 - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    t = t_int.astype(np.float64)
    tie = float(np.sum(t**3 - t))
    s = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1)))) if n > 1 else 0.0
    u = max(u1, n1 * n2 - u1)
    p = min(1.0, 2.0 * normal_sf((u - n1 * n2 / 2.0 - 0.5) / s)) if s > 0 else 1.0
    return u1, p, 1.0 - u1 / (n1 * n2)


# Exact KS two-sample p-values up to this many lattice cells (n1 * n2); above it the
# asymptotic Kolmogorov distribution.
KS_EXACT_MAX_CELLS = 4_000_000


def ks_2samp(
    x_sorted: np.ndarray, y_sorted: np.ndarray, merged: Merged | None = None
) -> tuple[float, float, str]:
    """Two-sided two-sample Kolmogorov-Smirnov test: (D, p, method).

    Formula: D = max_v |F_x(v) - F_y(v)| over the pooled values.
    p: "exact" when n1 n2 <= KS_EXACT_MAX_CELLS: P(D' >= D) over the C(n1 + n2, n1)
    equally likely lattice paths (= scipy.stats.ks_2samp(method="exact")), by a
    row-wise cumulative-sum recursion on the paths that stay strictly inside
    |i/n1 - j/n2| < D; else "asymptotic": Q_KS(sqrt(n1 n2 / (n1 + n2)) D),
    Q_KS(x) = 2 sum_k (-1)^(k-1) exp(-2 k² x²) (= scipy.stats.kstwobign.sf).
    """
    n1, n2 = len(x_sorted), len(y_sorted)
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan"), "none"
    m = merged or merge_sorted(x_sorted, y_sorted)
    fx = np.cumsum(m.from_x)[m.ends - 1]  # x values <= each distinct pooled value
    fy = m.ends - fx
    gap = int(np.max(np.abs(fx * n2 - fy * n1)))  # D * n1 * n2, an integer
    d = gap / (n1 * n2)
    if n1 * n2 <= KS_EXACT_MAX_CELLS:
        return d, _ks_exact(n1, n2, gap), "exact"
    return d, kolmogorov_sf(math.sqrt(n1 * n2 / (n1 + n2)) * d), "asymptotic"


def _ks_exact(n1: int, n2: int, gap: int) -> float:
    """P(max |i n2 - j n1| >= gap) over uniform monotone lattice paths (0,0) -> (n1,n2)."""
    if gap <= 0:
        return 1.0
    if n1 > n2:
        n1, n2 = n2, n1
    j = np.arange(n2 + 1, dtype=np.int64)
    # paths to (i, j) come from (i-1, j) or (i, j-1); the cells of row i inside the strip
    # |i n2 - j n1| < gap are contiguous in j, so the row is a cumulative sum of the one
    # below over them (row "-1" is a single path into (0, 0)). Rows are rescaled by their max.
    row = np.zeros(n2 + 1)
    row[0] = 1.0
    log_scale = 0.0
    for i in range(n1 + 1):
        inside = np.abs(i * n2 - j * n1) < gap
        row = (
            np.where(inside, np.cumsum(row * inside), 0.0)
            if i
            else np.where(inside, np.cumsum(inside) == np.arange(1, n2 + 2), 0.0)
        )
        top = float(row.max())
        if top == 0.0:
            return 1.0
        row /= top
        log_scale += math.log(top)
    inside_paths = row[n2]
    if inside_paths <= 0:
        return 1.0
    log_total = math.lgamma(n1 + n2 + 1) - math.lgamma(n1 + 1) - math.lgamma(n2 + 1)
    p_inside = math.exp(math.log(inside_paths) + log_scale - log_total)
    return min(1.0, max(0.0, 1.0 - p_inside))


def kolmogorov_sf(x: float) -> float:
    """Q_KS(x) = P(K > x) of the Kolmogorov distribution (two series, each used where it converges fast)."""
    if x <= 0:
        return 1.0
    if x < 1.0:
        s = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 12))
        return max(0.0, 1.0 - math.sqrt(2 * math.pi) / x * s)
    return min(1.0, 2.0 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101)))


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (controls the family-wise error rate); None stays None.

    Formula: sort the m p-values p_(1) <= ... <= p_(m); adjusted p_(i) =
    max_{j <= i} min(1, (m - j + 1) p_(j)).
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg step-up adjustment (controls the false discovery rate); None stays None.

    Formula: adjusted p_(i) = min_{j >= i} min(1, m p_(j) / j).
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    order = sorted(idx, key=lambda i: p_values[i])
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m * p_values[i] / (rank + 1))
        out[i] = running
    return out


ADJUSTMENTS = {"holm": holm, "bh": benjamini_hochberg}
ADJUSTMENT_NAMES = {
    "holm": "Holm (family-wise error rate)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
}

"""What the three implementations of the core report compute, and how their answers are compared.

The **core report** (issue 5) is four computations over the ``requests`` of a store:

1. latency per model of ttft_s, tpot_s, e2e_latency_s over ok requests: count,
   mean, p50/p90/p95/p99/p99.9 (linear interpolation) and the distribution-free
   95% confidence interval of each percentile (order statistics x_(l), x_(u));
2. concurrency per instance over the whole trace [first arrival, last
   completion]: arrivals, lambda, W, L = lambda W, the time-average in flight,
   its max and time-weighted p99, ratio;
3. burn windows for each SLO in ``traceana.toml``: per-minute total and bad
   counts and the multi-window burn-rate alert episodes (SRE workbook windows);
4. cost per instance: GPU-hours from the deployments, tokens served, busy
   hours (time with >= 1 request in flight), effective and nominal $/1M
   output tokens, utilization.

Each implementation writes the same JSON shape (``result`` below); ``compare``
checks two of them number by number. Nothing here imports traceana: the
reference pass and the pandas script must be independent of it.
"""

from __future__ import annotations

import math
import os
import tomllib
from datetime import datetime
from pathlib import Path

import numpy as np

PERCENTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
PCT_NAMES = ("p50", "p90", "p95", "p99", "p99_9")
LATENCY_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s")
CONFIDENCE = 0.95
EVERY_S = 60
PERIOD_S = 30 * 86400
# severity, long window s, short window s, budget fraction (Google SRE workbook table 5-8)
ALERT_WINDOWS = (("page", 3600, 300, 0.02), ("page", 21600, 1800, 0.05), ("ticket", 259200, 21600, 0.10))
COLUMNS = (
    "arrival_time",
    "model",
    "instance",
    "status",
    "ttft_s",
    "tpot_s",
    "e2e_latency_s",
    "prompt_tokens",
    "output_tokens",
)

# relative tolerances of compare(); busy time is a union of intervals that traceana's cost
# module rounds to microseconds and the reference sweep takes in nanoseconds
REL_TOL = 1e-9
BUSY_TOL = 1e-6
BUSY_KEYS = ("busy_hours", "utilization", "nominal_per_million")


def store_files(data_dir: Path) -> list[str]:
    """The requests Parquet parts listed in the store manifest (what every implementation reads)."""
    import json

    store = Path(data_dir) / "store"
    manifest = json.loads((store / "traceana-store.json").read_text(encoding="utf-8"))
    return [str(store / p) for p in manifest["parts"]["requests"]]


def load_config(data_dir: Path) -> dict:
    """SLOs, GPU prices and deployments from ``traceana.toml`` (plain dicts, deployment times in epoch us)."""
    cfg = tomllib.loads((Path(data_dir) / "traceana.toml").read_text(encoding="utf-8"))
    deps = []
    for d in cfg.get("deployment", []):
        s, e = (int(datetime.fromisoformat(d[k]).timestamp() * 1_000_000) for k in ("start", "end"))
        deps.append(
            {
                "instance": d["instance"],
                "model": d["model"],
                "gpu_type": d["gpu_type"],
                "gpu_count": int(d.get("gpu_count", 1)),
                "start_us": s,
                "end_us": e,
            }
        )
    slos = [
        {
            "name": s["name"],
            "metric": s.get("metric"),
            "threshold": s.get("threshold"),
            "objective": float(s["objective"]),
        }
        for s in cfg.get("slo", [])
    ]
    return {"slos": slos, "prices": dict(cfg.get("gpu_prices", {})), "deployments": deps}


def ci_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the equal-tailed order-statistic CI of quantile q, B ~ Binomial(n, q).

    l = max{l : P(B <= l - 1) <= alpha/2}, u = min{u : P(B >= u) <= alpha/2};
    None when P(B = 0) or P(B = n) already exceeds alpha/2. The binomial
    probabilities are summed outward from the mode in log space; terms more
    than ~15 sd away are below 1e-40 and left out.
    """
    half = (1 - confidence) / 2
    if n < 1 or (1 - q) ** n > half or q**n > half:
        return None
    sd = math.sqrt(n * q * (1 - q))
    lo, hi = max(0, int(n * q - 15 * sd) - 60), min(n, int(n * q + 15 * sd) + 60)
    k = np.arange(lo, hi + 1)
    logc = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in (lo, hi)])
    # log pmf by the recurrence pmf(k+1)/pmf(k) = (n-k)/(k+1) * q/(1-q), anchored at lo
    steps = np.log(n - k[:-1]) - np.log(k[:-1] + 1) + math.log(q) - math.log1p(-q)
    logp = logc[0] + lo * math.log(q) + (n - lo) * math.log1p(-q) + np.concatenate(([0.0], np.cumsum(steps)))
    pmf = np.exp(logp)
    cdf = np.cumsum(pmf)  # P(B <= k)
    sf = np.cumsum(pmf[::-1])[::-1]  # P(B >= k)
    below = np.flatnonzero(cdf <= half)
    above = np.flatnonzero(sf <= half)
    if not len(below) or not len(above):
        return None
    return int(k[below[-1]]) + 1, int(k[above[0]])


def alert_factor(budget_fraction: float, long_s: float, period_s: float = PERIOD_S) -> float:
    """Burn-rate threshold = budget_fraction * period / long window (0.02 * 30 d / 1 h = 14.4)."""
    from fractions import Fraction

    return float(Fraction(repr(budget_fraction)) * Fraction(period_s) / Fraction(long_s))


def alert_episodes(
    first_bucket_us: int, burns: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]], objective: float
) -> list[dict]:
    """Alert episodes from trailing-window burn rates.

    ``burns[(long_s, short_s)] = (long_burn, short_burn)`` per bucket. An episode
    starts at the first bucket where both exceed the factor and ends at the first
    bucket where that stops (None when still firing); peak = max long burn in it.
    """
    out = []
    for severity, long_s, short_s, frac in ALERT_WINDOWS:
        factor = alert_factor(frac, long_s)
        long_b, short_b = burns[(long_s, short_s)]
        firing = (long_b > factor) & (short_b > factor)
        edges = np.diff(np.concatenate(([0], firing.astype(np.int8), [0])))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            out.append(
                {
                    "severity": severity,
                    "long_s": long_s,
                    "factor": factor,
                    "fired_at_us": int(first_bucket_us + a * EVERY_S * 1_000_000),
                    "cleared_at_us": int(first_bucket_us + b * EVERY_S * 1_000_000)
                    if b < len(long_b)
                    else None,
                    "peak_burn_rate": float(long_b[a:b].max()),
                }
            )
    return sorted(out, key=lambda r: (r["fired_at_us"], r["severity"], r["long_s"]))


def trailing_burn(total: np.ndarray, bad: np.ndarray, k: int, objective: float) -> np.ndarray:
    """Burn rate over the k buckets ending at each bucket (fewer at the start)."""
    ct, cb = np.concatenate(([0], np.cumsum(total))), np.concatenate(([0], np.cumsum(bad)))
    i = np.arange(len(total))
    lo = np.maximum(i + 1 - k, 0)
    t, b = ct[i + 1] - ct[lo], cb[i + 1] - cb[lo]
    return np.where(t > 0, b / np.maximum(t, 1), 0.0) / (1 - objective)


def cost_row(dep: dict, price: float, requests: int, prompt: int, output: int, busy_s: float) -> dict:
    """Cost figures of one instance (tokens counted: output)."""
    hours = (dep["end_us"] - dep["start_us"]) / 3.6e9
    gpu_hours = hours * dep["gpu_count"]
    usd = gpu_hours * price
    busy_h = busy_s / 3600
    tps = output / busy_s if busy_s > 0 else None
    return {
        "requests": int(requests),
        "prompt_tokens": int(prompt),
        "output_tokens": int(output),
        "gpu_hours": gpu_hours,
        "cost_usd": usd,
        "effective_per_million": usd / (output / 1e6) if output else None,
        "busy_hours": busy_h,
        "utilization": busy_h / hours if hours else None,
        "nominal_per_million": 1e6 * dep["gpu_count"] * price / (3600 * tps) if tps else None,
    }


# ------------------------------------------------------------------------------ comparison


def _close(a, b, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(abs(a), abs(b)) or a == b


def compare(expected: dict, got: dict, label: str = "") -> list[str]:
    """Every number of ``got`` against ``expected``: ints exactly, floats within REL_TOL (BUSY_TOL
    for busy-time figures); lists element-wise. Returns readable mismatches (empty when they agree)."""
    out: list[str] = []

    def walk(e, g, path: str, tol: float) -> None:
        if len(out) > 20:
            return
        if isinstance(e, dict) and isinstance(g, dict):
            if set(e) != set(g):
                out.append(
                    f"{label}{path}: keys differ: only expected {sorted(set(e) - set(g))}, "
                    f"only got {sorted(set(g) - set(e))}"
                )
            for k in sorted(set(e) & set(g)):
                walk(e[k], g[k], f"{path}.{k}", BUSY_TOL if k in BUSY_KEYS else tol)
        elif isinstance(e, list) and isinstance(g, list):
            if len(e) != len(g):
                out.append(f"{label}{path}: length {len(g)} != expected {len(e)}")
                return
            for i, (x, y) in enumerate(zip(e, g, strict=True)):
                walk(x, y, f"{path}[{i}]", tol)
        elif isinstance(e, str) or isinstance(g, str):
            if e != g:
                out.append(f"{label}{path}: {g!r} != expected {e!r}")
        elif not _close(e, g, tol):
            out.append(f"{label}{path}: {g!r} != expected {e!r}")

    walk(expected.get("result"), got.get("result"), "", REL_TOL)
    return out


# ------------------------------------------------------------------------------ worker harness


class Phases:
    """Wall-clock seconds of named phases (perf_counter), for the breakdown in the results."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self.t0 = self._last = self._clock()
        self.seconds: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = self._clock()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now
        if os.environ.get("BENCH_VERBOSE"):  # phase, seconds, peak RSS so far: where memory goes
            import resource
            import sys

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"phase {name}: {self.seconds[name]:.2f} s, peak RSS so far {peak:,.0f} MiB",
                file=sys.stderr,
                flush=True,
            )

    def total(self) -> float:
        return self._clock() - self.t0


def worker_main(run, argv: list[str] | None = None) -> int:
    """``python impl_x.py DATA_DIR OUT_JSON``: run ``run(data_dir, phases)`` once and write its result + times."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    data_dir, out = Path(args[0]), Path(args[1])
    phases = Phases()
    result = run(data_dir, phases)
    seconds = phases.total()
    out.write_text(
        json.dumps({"result": result, "seconds": seconds, "phases": phases.seconds}, default=str),
        encoding="utf-8",
    )
    return 0

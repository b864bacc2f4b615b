"""What-if capacity planning: replay one arrival trace against 1..k replicas.

For each replica count N the fleet (N copies of one instance template) serves
the same arrivals with the same seed; the result per N is the predicted TTFT
and e2e percentiles (ok requests), the SLO attainment (every request counts:
a failure is bad), and the cost. Beside it, the closed-form autoscaling answer
(``traceana.metrics.capacity.autoscale``):

    replicas = ceil(lambda_p / (target_util * mu))

with lambda_p the p95 of the per-minute arrival rate (req/s) and mu the
measured service rate per replica, 1 / mean(e2e - queue) of the ok requests
at the largest N simulated (the same estimator as traceana.metrics.capacity).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from traceana.errors import TraceanaError
from traceana.simulate.arrivals import Arrivals
from traceana.simulate.fleet import Fleet, InstanceSpec
from traceana.simulate.tables import simulate


@dataclass(frozen=True)
class WhatIfRow:
    instances: int
    gpus: int
    ttft_p50_s: float
    ttft_p90_s: float
    ttft_p99_s: float
    e2e_p50_s: float
    e2e_p90_s: float
    e2e_p99_s: float
    ok: int
    failed: int
    slo_attainment: float
    meets_slo: bool
    utilization: float  # mean arrival rate / (N * mu)
    cost_usd: float
    usd_per_1m_output_tokens: float


@dataclass(frozen=True)
class WhatIfResult:
    rows: list[WhatIfRow]
    smallest_meeting: int | None
    slo_ttft_s: float
    objective: float
    gpu_price_per_hour: float
    hours: float
    requests: int
    mean_rate_per_s: float
    lambda_p95_per_s: float
    mu_per_replica: float
    target_util: float
    closed_form_replicas: int
    closed_form_utilization: float
    note: str
    template: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        return d


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else float("nan")


def _replicas_needed(lam: float, mu: float, target: float) -> tuple[int, float]:
    try:  # the capacity family's exact implementation, when present
        from traceana.metrics.capacity import replicas_needed
    except ImportError:  # pragma: no cover - only before the capacity module existed
        n = math.ceil(lam / (target * mu))
        return n, (lam / (n * mu) if n else 0.0)
    return replicas_needed(lam, mu, target)


def whatif(
    arrivals: Arrivals,
    template: InstanceSpec,
    instances: range | list[int] = range(1, 9),
    slo_ttft_s: float = 2.0,
    objective: float = 0.99,
    gpu_price_per_hour: float = 4.0,
    target_util: float = 0.7,
    seed: int = 0,
    policy: Fleet | None = None,
) -> WhatIfResult:
    """Simulate N replicas of ``template`` for each N in ``instances``; see the module docstring.

    ``policy`` supplies the gateway settings (queue limit, timeouts, error rate,
    post-processing); by default an unlimited queue, no timeouts and no random
    errors, so the table shows queueing alone. Cost = N * gpu_count * hours *
    gpu_price_per_hour, hours = the trace's span (first to last arrival);
    $/1M output tokens divides it by the ok requests' output tokens.
    """
    ns = sorted(set(int(n) for n in instances))
    if not ns or ns[0] < 1:
        raise TraceanaError("whatif: instances must be positive replica counts, e.g. range(1, 9)")
    if not 0 < objective < 1 or slo_ttft_s <= 0 or gpu_price_per_hour < 0 or not 0 < target_util <= 1:
        raise TraceanaError(
            "whatif: need 0 < objective < 1, slo_ttft_s > 0, gpu_price_per_hour >= 0, 0 < target_util <= 1"
        )
    if len(arrivals) < 2:
        raise TraceanaError("whatif: the arrival trace needs at least two requests")
    base = policy or Fleet(instances=(template,), post_median_s=0.004, sample_interval_s=60.0)
    spec = template
    arr = replace(arrivals, model=None, models=())
    hours = max(arrivals.duration_s, 1.0) / 3600.0
    mean_rate = len(arrivals) / max(arrivals.duration_s, 1.0)
    results = []
    for n in ns:
        fleet = replace(
            base, instances=tuple(replace(spec, name=f"{spec.name}-{k}") for k in range(n)), fallbacks=()
        )
        out = simulate(arr, fleet, np.random.default_rng(seed))
        req = out.requests
        status = np.asarray(req.column("status").to_pylist(), dtype=object)
        ok = status == "ok"
        ttft = req.column("ttft_s").to_numpy(zero_copy_only=False)
        e2e = req.column("e2e_latency_s").to_numpy()
        queue = req.column("queue_time_s").to_numpy()
        out_tok = req.column("output_tokens").to_numpy()
        good = ok & (np.nan_to_num(ttft, nan=np.inf) <= slo_ttft_s)
        results.append((n, ok, ttft, e2e, queue, out_tok, float(good.mean())))
    # mu from the largest fleet: queueing is smallest there, so e2e - queue is the service time
    _, ok_l, _, e2e_l, q_l, _, _ = results[-1]
    mean_service = float(np.mean(e2e_l[ok_l] - q_l[ok_l])) if ok_l.any() else float("nan")
    mu = 1.0 / mean_service if mean_service > 0 else float("nan")
    lam_p = float(np.percentile(arrivals.per_minute_rates(), 95))
    cf_n, cf_util = _replicas_needed(lam_p, mu, target_util) if mu == mu else (0, float("nan"))

    rows = []
    for n, ok, ttft, e2e, _, out_tok, att in results:
        cost = n * spec.gpu_count * hours * gpu_price_per_hour
        toks = float(out_tok[ok].sum())
        rows.append(
            WhatIfRow(
                instances=n,
                gpus=n * spec.gpu_count,
                ttft_p50_s=_pct(ttft[ok], 50),
                ttft_p90_s=_pct(ttft[ok], 90),
                ttft_p99_s=_pct(ttft[ok], 99),
                e2e_p50_s=_pct(e2e[ok], 50),
                e2e_p90_s=_pct(e2e[ok], 90),
                e2e_p99_s=_pct(e2e[ok], 99),
                ok=int(ok.sum()),
                failed=int((~ok).sum()),
                slo_attainment=att,
                meets_slo=att >= objective,
                utilization=mean_rate / (n * mu) if mu == mu else float("nan"),
                cost_usd=cost,
                usd_per_1m_output_tokens=cost / (toks / 1e6) if toks else float("nan"),
            )
        )
    smallest = next((r.instances for r in rows if r.meets_slo), None)
    note = _note(smallest, cf_n, ns[-1], target_util)
    return WhatIfResult(
        rows=rows,
        smallest_meeting=smallest,
        slo_ttft_s=slo_ttft_s,
        objective=objective,
        gpu_price_per_hour=gpu_price_per_hour,
        hours=hours,
        requests=len(arrivals),
        mean_rate_per_s=mean_rate,
        lambda_p95_per_s=lam_p,
        mu_per_replica=mu,
        target_util=target_util,
        closed_form_replicas=cf_n,
        closed_form_utilization=cf_util,
        note=note,
        template={
            "name": spec.name,
            "model": spec.model,
            "gpu_type": spec.gpu_type,
            "gpu_count": spec.gpu_count,
            "quantization": spec.quantization,
            "max_batch": spec.service.max_batch,
            "kv_capacity_tokens": spec.service.kv_capacity_tokens,
        },
    )


def _note(sim_n: int | None, cf_n: int, k: int, target: float) -> str:
    if sim_n is None:
        return (
            f"No fleet up to {k} replicas meets the TTFT SLO in simulation; the closed form asks for {cf_n}. "
            "Try more replicas: the tail of the queue, not the mean load, is what the SLO sees."
        )
    if cf_n > sim_n:
        return (
            f"The closed form asks for {cf_n} replicas, the simulation meets the SLO with {sim_n}: "
            "the formula treats a replica as serving one request at a time (mu = 1 / mean service time), "
            "but continuous batching overlaps many requests' decode, so a replica's real capacity is "
            "higher and the SLO is met at a utilization (by that mu) above the target."
        )
    if cf_n < sim_n:
        return (
            f"The closed form asks for {cf_n} replicas at {target:.0%} mean utilization, the simulation "
            f"needs {sim_n}: the p99 TTFT is set by the queueing tail (sub-minute bursts and long prompts "
            "blocking prefill), which exceeds the SLO at utilizations below the target."
        )
    return (
        f"Both answers are {sim_n} replicas: at this load the mean-utilization rule and the simulated "
        "queueing tail agree."
    )


def format_whatif(res: WhatIfResult) -> str:
    """A plain-text table of the what-if and the closing comparison."""
    head = (
        f"{'N':>3} {'GPUs':>5} {'TTFT p50':>9} {'p90':>8} {'p99':>8} {'e2e p50':>8} {'p90':>8} {'p99':>8} "
        f"{'failed':>7} {'SLO att.':>9} {'util':>6} {'cost $':>9} {'$/1M out':>9}"
    )
    lines = [
        f"What-if: {res.requests} requests over {res.hours:.2f} h (mean {res.mean_rate_per_s:.2f} req/s), "
        f"replicas of {res.template.get('model')} on {res.template.get('gpu_count')}x{res.template.get('gpu_type')}; "
        f"SLO: TTFT <= {res.slo_ttft_s:g} s for {res.objective:.2%} of requests; ${res.gpu_price_per_hour:g}/GPU-hour",
        head,
    ]
    for r in res.rows:
        mark = "*" if r.meets_slo else " "
        lines.append(
            f"{r.instances:>3} {r.gpus:>5} {r.ttft_p50_s:>9.3f} {r.ttft_p90_s:>8.3f} {r.ttft_p99_s:>8.3f} "
            f"{r.e2e_p50_s:>8.3f} {r.e2e_p90_s:>8.3f} {r.e2e_p99_s:>8.3f} {r.failed:>7} {r.slo_attainment:>9.4f} "
            f"{r.utilization:>6.2f} {r.cost_usd:>9.2f} {r.usd_per_1m_output_tokens:>9.2f}{mark}"
        )
    sim = "none in range" if res.smallest_meeting is None else str(res.smallest_meeting)
    lines += [
        "(* meets the SLO; latencies in s over ok requests; util = mean rate / (N * mu))",
        f"Smallest fleet meeting the SLO (simulated): {sim}",
        f"Closed form ceil(lambda_p95 / (target_util * mu)) = ceil({res.lambda_p95_per_s:.3f} / "
        f"({res.target_util:g} * {res.mu_per_replica:.3f})) = {res.closed_form_replicas} replicas "
        f"(utilization {res.closed_form_utilization:.3f})",
        res.note,
    ]
    return "\n".join(lines)

"""The synthetic fleet day behind ``sample_traces/`` and ``traceana simulate --out``.

One UTC day of chat traffic with a diurnal peak at 14:00 plus a 20-minute burst
of long-context (RAG) requests to the 70B model at 15:30, served by
:func:`traceana.simulate.fleet.demo_fleet`. The burst overloads the 70B pool:
queues build, requests fall back to the 8B pool, the bf16 70B instance runs
out of KV cache and preempts, and some requests time out. A 75-second retry
storm to the 8B model at 19:00 fills its queues and the gateway rejects. A few
prompts exceed the 32k context and fail with HTTP 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from traceana.errors import TraceanaError
from traceana.simulate.arrivals import DAY_S, Arrivals, diurnal_profile, lognormal_tokens, poisson_arrivals
from traceana.simulate.fleet import demo_fleet
from traceana.simulate.tables import SimOutput, simulate

#: requests in the bundled sample day
SAMPLE_REQUESTS = 30_000
SAMPLE_DATE = "2025-11-17"
SAMPLE_SEED = 20251117
MODELS = ("llama-3.1-8b", "llama-3.1-70b")


@dataclass(frozen=True)
class DayPlan:
    """Knobs of the synthetic day (rates scale with ``requests``)."""

    requests: int = SAMPLE_REQUESTS
    date: str = SAMPLE_DATE
    burst_share: float = 0.2  # of all requests, in the burst
    burst_start_h: float = 15.5
    burst_minutes: float = 20.0
    share_70b: float = 0.35  # of the diurnal traffic
    peak_hour: float = 14.0
    trough_ratio: float = 0.15
    system_prompt_share: float = 0.4  # requests that start with a cached system prompt
    storm_share: float = 0.12  # of all requests, in a retry storm to the 8B model
    storm_start_h: float = 19.0
    storm_seconds: float = 75.0
    huge_prompt_share: float = 0.001  # prompts beyond max_model_len (HTTP 400)

    @property
    def t0_epoch_s(self) -> float:
        try:
            d = datetime.strptime(self.date, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise TraceanaError(f"DayPlan.date '{self.date}' is not YYYY-mm-dd") from None
        return d.timestamp()

    @property
    def scale(self) -> int:
        """Instance multiplier so that per-instance load stays that of the sample day."""
        return max(1, round(self.requests / SAMPLE_REQUESTS))


def day_arrivals(plan: DayPlan, rng: np.random.Generator) -> Arrivals:
    """Arrivals of the synthetic day: diurnal chat traffic to both models plus the 70B burst."""
    if plan.requests < 10:
        raise TraceanaError("DayPlan.requests must be >= 10")
    burst_s = plan.burst_minutes * 60.0
    start = plan.burst_start_h * 3600.0
    storm = plan.storm_start_h * 3600.0
    base_share = 1 - plan.burst_share - plan.storm_share
    profile = diurnal_profile(plan.requests * base_share / DAY_S, plan.peak_hour, plan.trough_ratio)
    t_base = poisson_arrivals(profile, DAY_S, rng)
    burst_rate = plan.requests * plan.burst_share / burst_s
    t_burst = poisson_arrivals(
        lambda t: np.where((t >= start) & (t < start + burst_s), burst_rate, 0.0), DAY_S, rng
    )
    storm_rate = plan.requests * plan.storm_share / plan.storm_seconds
    t_storm = poisson_arrivals(
        lambda t: np.where((t >= storm) & (t < storm + plan.storm_seconds), storm_rate, 0.0),
        DAY_S,
        rng,
        grid_s=0.5,
    )
    nb, nx, ns = len(t_base), len(t_burst), len(t_storm)

    model = np.concatenate(
        [
            (rng.random(nb) < plan.share_70b).astype(np.int64),
            np.ones(nx, dtype=np.int64),
            np.zeros(ns, dtype=np.int64),
        ]
    )
    base_prompt = lognormal_tokens(nb, 600, 0.9, 8, 12000, rng)
    huge = rng.random(nb) < plan.huge_prompt_share
    base_prompt[huge] = rng.integers(33000, 48000, int(huge.sum()))
    prompt = np.concatenate(
        [
            base_prompt,
            lognormal_tokens(nx, 3500, 0.35, 1000, 16000, rng),
            lognormal_tokens(ns, 600, 0.9, 8, 12000, rng),
        ]
    )
    output = np.concatenate(
        [
            lognormal_tokens(nb, 180, 0.8, 1, 4096, rng),
            lognormal_tokens(nx, 350, 0.5, 16, 2048, rng),
            lognormal_tokens(ns, 180, 0.8, 1, 4096, rng),
        ]
    )
    # clients mostly ask for max_tokens 1024; one in five asks for 256 and some stop at that limit
    n = nb + nx + ns
    max_tok = np.where(rng.random(n) < 0.2, 256, 1024)
    output = np.minimum(output, max_tok)
    # a shared system prompt, cached after the first use, rounded down to 16-token KV blocks
    sys_len = rng.choice(np.array([256, 512, 1024]), n)
    has_sys = rng.random(n) < plan.system_prompt_share
    cached = np.where(has_sys, (np.minimum(sys_len, prompt - 1) // 16) * 16, 0)
    return Arrivals.sorted(
        np.concatenate([t_base, t_burst, t_storm]),
        prompt,
        output,
        t0_epoch_s=plan.t0_epoch_s,
        model=model,
        models=MODELS,
        source="traceana-sim:day",
        cached_tokens=cached,
        max_tokens=max_tok,
    )


def fleet_day(
    plan: DayPlan | None = None, seed: int = SAMPLE_SEED, sample_interval_s: float = 10.0
) -> SimOutput:
    """Simulate the synthetic fleet day (deterministic for a given plan and seed)."""
    plan = plan or DayPlan()
    rng = np.random.default_rng(seed)
    arrivals = day_arrivals(plan, rng)
    fleet = demo_fleet(scale=plan.scale, sample_interval_s=sample_interval_s)
    return simulate(arrivals, fleet, rng, source_file="traceana-sim:fleet-day")

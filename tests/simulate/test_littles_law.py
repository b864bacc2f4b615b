"""Little's law on the simulator's output, checked with independent numpy computations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _intervals(r: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    a = r.column("arrival_time").cast(pa.int64()).to_numpy() / 1e6
    return a, a + r.column("e2e_latency_s").to_numpy()


def _sweep_area(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> float:
    """Integral of the in-flight count over [lo, hi) by an event sweep (departures before arrivals)."""
    times = np.concatenate([start, end])
    delta = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((delta, times))  # at equal times -1 sorts first
    times, level = times[order], np.cumsum(delta[order])
    # the level holds from each event time to the next one
    seg_lo = np.clip(times[:-1], lo, hi)
    seg_hi = np.clip(times[1:], lo, hi)
    return float(np.sum(level[:-1] * (seg_hi - seg_lo)))


def test_whole_trace_time_average_equals_sum_e2e_over_T(day):
    start, end = _intervals(day.requests)
    lo, hi = start.min(), end.max()
    T = hi - lo
    empirical = _sweep_area(start, end, lo, hi) / T
    littles = day.requests.column("e2e_latency_s").to_numpy().sum() / T  # L = lambda * W = (n/T) * (sum/n)
    assert abs(empirical / littles - 1) < 1e-9
    assert 0.1 < littles < 100  # a plausible fleet-wide concurrency for this day


def test_per_hour_windows_clipped(day):
    start, end = _intervals(day.requests)
    t0 = np.floor(start.min() / 86400) * 86400
    for h in range(24):
        a, b = t0 + 3600 * h, t0 + 3600 * (h + 1)
        clipped = np.clip(np.minimum(end, b) - np.maximum(start, a), 0, None).sum() / (b - a)
        assert abs(_sweep_area(start, end, a, b) / (b - a) - clipped) < 1e-6 * max(clipped, 1)


def test_engine_queue_plus_batch_matches_request_concurrency(day):
    # per instance: the time average of running + waiting (sampled every 10 s) against the requests'
    # own in-flight time at the engine (arrival to last token, no post) over the day: two views, one number
    r, es = day.requests, day.engine_samples
    inst = np.asarray(r.column("instance").to_pylist(), dtype=object)
    status = np.asarray(r.column("status").to_pylist(), dtype=object)
    q = r.column("queue_time_s").to_numpy()
    p = np.nan_to_num(r.column("prefill_time_s").to_numpy(zero_copy_only=False))
    d = np.nan_to_num(r.column("decode_time_s").to_numpy(zero_copy_only=False))
    single = r.column("output_tokens").to_numpy() <= 1
    # a one-token request holds the instance only during its prefill, which samples count as running
    # only after it; a rejected one never entered a queue
    at_engine = np.where(single, q, q + p + d)
    keep = status != "rejected"
    span = 86400.0 + 3600
    for name in ("vllm-8b-0", "vllm-70b-0", "vllm-70b-1"):
        mine = keep & (inst == name)
        L = at_engine[mine].sum() / span
        rows = es.filter(pa.compute.equal(es.column("instance"), name))
        n = rows.column("num_running").to_numpy() + rows.column("num_waiting").to_numpy()
        sampled = n.sum() * 10.0 / span
        assert abs(sampled / L - 1) < 0.02, (name, sampled, L)

"""The engine against queueing theory and an independent FCFS recursion."""

from __future__ import annotations

import numpy as np
import pytest

from traceana.simulate.arrivals import Arrivals
from traceana.simulate.fleet import Fleet, InstanceSpec, ServiceModel
from traceana.simulate.tables import simulate


def _single_server(S: float, post: float = 0.0) -> Fleet:
    """One instance, batch 1, service = S/1000 s per prompt token and nothing else (out = 1 token)."""
    svc = ServiceModel(prefill_s_per_token=S / 1000, decode_base_s=0.0, max_batch=1)
    return Fleet(instances=(InstanceSpec("i0", "m", svc),), post_median_s=post)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_response_time(rho):
    # M/M/1: Poisson arrivals, exponential service (geometric tokens with mean 1000 ~ exponential),
    # mean response W = S / (1 - rho); the notebook's 0.2 s, 0.8 -> 1.0 s.
    S, n = 0.2, 200_000
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.exponential(S / rho, n))
    arr = Arrivals.sorted(t, rng.geometric(1 / 1000, n), np.ones(n, dtype=np.int64))
    out = simulate(arr, _single_server(S), np.random.default_rng(12))
    w = out.requests.column("e2e_latency_s").to_numpy()
    assert abs(w.mean() / (S / (1 - rho)) - 1) < 0.05


def test_fcfs_single_server_matches_lindley_recursion():
    # Lindley: wait_i = max(0, wait_{i-1} + S_{i-1} - (a_i - a_{i-1})), computed here in plain Python
    rng = np.random.default_rng(3)
    n = 3000
    t = np.round(np.cumsum(rng.exponential(0.25, n)), 6)
    tokens = rng.integers(1, 400, n)
    S = tokens * (0.2 / 1000)
    out = simulate(
        Arrivals.sorted(t, tokens, np.ones(n, dtype=np.int64)), _single_server(0.2), np.random.default_rng(0)
    )
    queue = out.requests.column("queue_time_s").to_numpy()
    prefill = out.requests.column("prefill_time_s").to_numpy()
    wait = [0.0]
    for i in range(1, n):
        wait.append(max(0.0, wait[-1] + S[i - 1] - (t[i] - t[i - 1])))
    np.testing.assert_allclose(queue, wait, atol=2e-6)
    np.testing.assert_allclose(prefill, S, atol=2e-6)


def test_batch_decode_time_follows_step_model():
    # two requests admitted together decode side by side: each step takes d0 + d1 * 2
    svc = ServiceModel(prefill_s_per_token=0.0, decode_base_s=0.010, decode_s_per_seq=0.005, max_batch=8)
    fleet = Fleet(instances=(InstanceSpec("i0", "m", svc),), post_median_s=0.0)
    arr = Arrivals.sorted([0.0, 0.0], [10, 10], [101, 101])
    out = simulate(arr, fleet, np.random.default_rng(0))
    decode = out.requests.column("decode_time_s").to_numpy()
    np.testing.assert_allclose(decode, [100 * 0.020, 100 * 0.020], atol=2e-6)  # 100 steps of 20 ms
    tpot = out.requests.column("tpot_s").to_numpy()
    np.testing.assert_allclose(tpot, [0.020, 0.020], atol=1e-8)


def test_kv_exhaustion_preempts_the_newest_request():
    # KV 300 tokens: two requests of 100 prompt + 150 output cannot both finish; the second is preempted
    svc = ServiceModel(prefill_s_per_token=0.0, decode_base_s=0.01, max_batch=8, kv_capacity_tokens=300)
    fleet = Fleet(instances=(InstanceSpec("i0", "m", svc),), post_median_s=0.0)
    arr = Arrivals.sorted([0.0, 0.001], [100, 100], [150, 150])
    out = simulate(arr, fleet, np.random.default_rng(0))
    npre = out.requests.column("num_preemptions").to_pylist()
    assert npre == [0, 1]
    assert out.requests.column("scheduler_decision").to_pylist() == ["admitted", "preempted"]
    assert out.requests.column("status").to_pylist() == ["ok", "ok"]
    assert out.engine_samples.column("num_preempted").to_numpy().sum() == 1


def test_queue_limit_rejects_and_timeout_expires():
    svc = ServiceModel(prefill_s_per_token=0.001, decode_base_s=0.0, max_batch=1)
    fleet = Fleet(
        instances=(InstanceSpec("i0", "m", svc),), queue_limit=2, queue_timeout_s=1.5, post_median_s=0.0
    )
    # each request takes 1 s; five arrive at once: 1 runs, 2 wait, 2 are rejected; the 3rd waited 2 s > 1.5 s
    arr = Arrivals.sorted([0.0] * 5, [1000] * 5, [1] * 5)
    out = simulate(arr, fleet, np.random.default_rng(0))
    assert out.requests.column("status").to_pylist() == ["ok", "ok", "timeout", "rejected", "rejected"]
    assert out.requests.column("error_type").to_pylist() == [
        None,
        None,
        "Timeout",
        "RateLimitError",
        "RateLimitError",
    ]
    assert out.requests.column("e2e_latency_s").to_pylist()[2] == pytest.approx(1.5)

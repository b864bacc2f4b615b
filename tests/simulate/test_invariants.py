"""Internal consistency of the simulated requests and engine samples (the sample day)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from traceana.schema import ENGINE_SAMPLES, REQUESTS, STATUSES

CHECKLIST = [f.name for f in REQUESTS if f.metadata[b"checklist"] in (b"1", b"2", b"3", b"4", b"5", b"6")]
# fields that exist only for some requests by definition (never-served requests have no token times)
CONDITIONAL = {"itl_s", "fallback_from", "error_type"}


def _np(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy(zero_copy_only=False)


def test_schema_is_canonical(day):
    assert day.requests.schema.equals(REQUESTS, check_metadata=False)
    assert day.engine_samples.schema.equals(ENGINE_SAMPLES, check_metadata=False)
    assert set(day.requests.column("source_format").to_pylist()) == {"traceana-sim"}


def test_ok_rows_fill_every_checklist_field(day):
    ok = day.requests.filter(pa.compute.equal(day.requests.column("status"), "ok"))
    for name in CHECKLIST:
        if name in CONDITIONAL:
            continue
        col = ok.column(name)
        if name == "tpot_s":  # only where output_tokens > 1
            multi = _np(ok, "output_tokens") > 1
            assert not np.isnan(_np(ok, name)[multi]).any()
            continue
        assert col.null_count == 0, name


def test_fleet_day_has_every_situation(day):
    r = day.requests
    status = set(r.column("status").to_pylist())
    assert {"ok", "error", "timeout", "rejected"} <= status <= set(STATUSES)
    assert set(r.column("quantization").to_pylist()) == {"bf16", "fp8"}
    assert _np(r, "num_preemptions").sum() > 0
    route = np.asarray(r.column("route").to_pylist())
    fb = route == "fallback"
    assert fb.sum() > 100
    assert set(np.asarray(r.column("fallback_from").to_pylist(), dtype=object)[fb]) == {"llama-3.1-70b"}
    assert set(np.asarray(r.column("model").to_pylist(), dtype=object)[fb]) == {"llama-3.1-8b"}
    assert r.column("fallback_from").null_count == (~fb).sum()
    err = np.asarray(r.column("error_type").to_pylist(), dtype=object)
    st = np.asarray(r.column("status").to_pylist(), dtype=object)
    assert all(e is not None for e in err[st != "ok"]) and all(e is None for e in err[st == "ok"])


def test_latency_budget_adds_up(day):
    r = day.requests
    ran = ~np.isnan(_np(r, "ttft_s"))
    q, p, d = _np(r, "queue_time_s")[ran], _np(r, "prefill_time_s")[ran], _np(r, "decode_time_s")[ran]
    e2e, ttft = _np(r, "e2e_latency_s")[ran], _np(r, "ttft_s")[ran]
    post = e2e - (q + p + d)
    assert (post > 0).all() and (post < 0.1).all()  # a small positive remainder
    np.testing.assert_allclose(ttft, q + p, rtol=0, atol=1e-9)
    out = _np(r, "output_tokens")[ran]
    multi = out > 1
    # TPOT = (e2e - ttft) / (out - 1): DESIGN.md section 3, the post tail included
    np.testing.assert_allclose(
        _np(r, "tpot_s")[ran][multi], (e2e - ttft)[multi] / (out[multi] - 1), rtol=1e-9
    )
    assert (q >= 0).all() and (p > 0).all() and (d >= 0).all()
    # scheduled_time = arrival_time + queue_time_s to the microsecond
    sched = r.column("scheduled_time").cast(pa.int64()).to_numpy(zero_copy_only=False)[ran]
    arr = r.column("arrival_time").cast(pa.int64()).to_numpy()[ran]
    np.testing.assert_array_equal(sched - arr, np.rint(q * 1e6).astype(np.int64))


def test_decision_matches_preemptions(day):
    r = day.requests
    dec = np.asarray(r.column("scheduler_decision").to_pylist(), dtype=object)
    npre = _np(r, "num_preemptions")
    assert ((dec == "preempted") == (npre > 0)).all()
    st = np.asarray(r.column("status").to_pylist(), dtype=object)
    assert (dec[st == "rejected"] == "rejected").all() and (dec[st == "timeout"] == "expired").all()


def _in_flight_sums(
    r: pa.Table, instance: str, ticks_us: np.ndarray, weights: list[np.ndarray | None]
) -> list[np.ndarray]:
    """Brute force over the requests table: for each tick, the sum of ``w`` over requests of ``instance``
    with scheduled <= t < scheduled + prefill + decode (w = None counts them). Valid where no request
    was preempted. Requests that finish at their first token never join the running batch."""
    inst = np.asarray(r.column("instance").to_pylist(), dtype=object) == instance
    ran = inst & ~np.isnan(_np(r, "ttft_s")) & (_np(r, "output_tokens") > 1)
    start = r.column("scheduled_time").cast(pa.int64()).to_numpy(zero_copy_only=False)[ran].astype(np.int64)
    end = start + np.rint((_np(r, "prefill_time_s")[ran] + _np(r, "decode_time_s")[ran]) * 1e6).astype(
        np.int64
    )
    out = []
    for w in weights:
        w = np.ones(ran.sum()) if w is None else w[ran]
        by_start, by_end = np.argsort(start, kind="stable"), np.argsort(end, kind="stable")
        cs = np.concatenate(([0.0], np.cumsum(w[by_start])))
        ce = np.concatenate(([0.0], np.cumsum(w[by_end])))
        out.append(
            cs[np.searchsorted(start[by_start], ticks_us, "right")]
            - ce[np.searchsorted(end[by_end], ticks_us, "right")]
        )
    return out


def test_running_batch_and_kv_follow_the_requests(day):
    r, es = day.requests, day.engine_samples
    prompt, output = _np(r, "prompt_tokens").astype(float), _np(r, "output_tokens").astype(float)
    for instance in ("vllm-8b-1", "vllm-70b-1"):  # instances without preemptions
        rows = es.filter(pa.compute.equal(es.column("instance"), instance))
        ticks = rows.column("time").cast(pa.int64()).to_numpy()
        want, lo, hi = _in_flight_sums(r, instance, ticks, [None, prompt + 1, prompt + output])
        got = _np(rows, "num_running")
        assert np.mean(np.abs(got - want) <= 1) > 0.995
        assert np.mean(got == want) > 0.95
        kv = _np(rows, "kv_cache_usage")
        assert ((kv == 0) == (got == 0)).all()
        # KV in use lies between the running requests' prompts (+ first token) and their full length
        used = kv * _np(rows, "kv_cache_capacity_tokens")
        same = got == want
        assert (used[same] >= lo[same] - 1e-6).all() and (used[same] <= hi[same] + 1e-6).all()
    kv_all = _np(es, "kv_cache_usage")
    assert (kv_all >= 0).all() and (kv_all <= 1).all()


def test_engine_counters(day):
    es = day.engine_samples
    assert _np(es, "num_preempted").sum() == _np(day.requests, "num_preemptions").sum()
    assert (_np(es, "generation_tokens_per_s") >= -1e-6).all() and (_np(es, "prompt_tokens_per_s") >= 0).all()
    assert set(es.column("gpu_count").to_pylist()) == {1, 4} and set(es.column("gpu_type").to_pylist()) == {
        "H100"
    }

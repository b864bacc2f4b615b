"""Run the engine and turn its event times into canonical ``requests`` / ``engine_samples`` tables.

Per request (times in s; every duration derived from the same event times):
    queue_time_s   = scheduled - arrival
    prefill_time_s = first_token - scheduled
    decode_time_s  = finish - first_token          (includes re-prefill after a preemption)
    ttft_s         = queue_time_s + prefill_time_s
    tpot_s         = (e2e_latency_s - ttft_s) / (output_tokens - 1), output_tokens > 1
                     (vLLM's definition, as tpot_s: post, the detokenize/network tail, is included)
    e2e_latency_s  = queue_time_s + prefill_time_s + decode_time_s + post_s
post_s is a small positive remainder (detokenize + network), lognormal around
``fleet.post_median_s``. Timed-out requests have e2e = queue timeout + post,
rejected and invalid ones e2e = post (the gateway's answer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traceana.errors import TraceanaError
from traceana.schema import conform
from traceana.simulate.arrivals import Arrivals
from traceana.simulate.engine import ERROR, INVALID, OK, REJECTED, TIMEOUT, EngineResult, run_engine
from traceana.simulate.fleet import Fleet

SOURCE_FORMAT = "traceana-sim"
_STATUS = np.array(["ok", "error", "timeout", "rejected", "error"], dtype=object)
_DECISION = {OK: "admitted", ERROR: "admitted", TIMEOUT: "expired", REJECTED: "rejected", INVALID: "invalid"}


@dataclass
class SimOutput:
    """Canonical tables plus the raw engine result (for what-if statistics)."""

    requests: pa.Table
    engine_samples: pa.Table
    engine: EngineResult
    fleet: Fleet
    t0_epoch_s: float
    end_s: float  # last completion, s since t0
    arrivals: Arrivals | None = None


def simulate(
    arrivals: Arrivals,
    fleet: Fleet,
    rng: np.random.Generator,
    source_file: str = "traceana-simulate",
    request_id_prefix: str = "chatcmpl-",
) -> SimOutput:
    """Simulate ``fleet`` serving ``arrivals``; return canonical tables.

    Models in ``arrivals.models`` are matched to ``fleet.models`` by name; an
    arrival trace without models sends every request to the fleet's first model.
    """
    n = len(arrivals)
    if n == 0:
        raise TraceanaError("simulate: no arrivals")
    models = fleet.models
    if arrivals.model is None:
        pool = np.zeros(n, dtype=np.int64)
    else:
        missing = [m for m in arrivals.models if m not in models]
        if missing:
            raise TraceanaError(
                f"simulate: arrivals ask for models the fleet lacks: {missing}. Hint: fleet has {list(models)}"
            )
        remap = np.array([models.index(m) for m in arrivals.models], dtype=np.int64)
        pool = remap[arrivals.model]
    prompt = arrivals.prompt_tokens
    cached = arrivals.cached_tokens if arrivals.cached_tokens is not None else np.zeros(n, dtype=np.int64)
    cached = np.minimum(cached, prompt - 1).clip(0)
    fails = rng.random(n) < fleet.error_rate
    out_full = arrivals.output_tokens
    # a failing request dies after a uniform fraction of its tokens (at least one)
    cut = np.maximum(1, np.floor(out_full * rng.random(n)).astype(np.int64))
    out = np.where(fails, np.minimum(cut, out_full), out_full)
    post = rng.lognormal(np.log(fleet.post_median_s), 0.5, n) if fleet.post_median_s > 0 else np.zeros(n)
    err_pick = rng.integers(0, len(fleet.error_types), n)
    inst_pick = rng.integers(0, 1 << 30, n)

    res = run_engine(fleet, arrivals.t_s, prompt, cached, out, pool, fails, rng)
    req = _requests_table(
        arrivals, fleet, res, pool, cached, out, post, err_pick, inst_pick, source_file, request_id_prefix
    )
    samples = _samples_table(arrivals.t0_epoch_s, fleet, res)
    e2e = req.column("e2e_latency_s").to_numpy()
    end = float(np.max(arrivals.t_s + e2e))
    return SimOutput(req, samples, res, fleet, arrivals.t0_epoch_s, end, arrivals)


def _ts(t0_epoch_s: float, rel_s: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    us = np.int64(round(t0_epoch_s * 1e6)) + np.rint(rel_s * 1e6).astype(np.int64)
    return pa.array(us, type=pa.int64(), mask=None if valid is None else ~valid).cast(
        pa.timestamp("us", tz="UTC")
    )


def _f(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=~valid)


def _take(names: list[str | None], idx: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    arr = pc.take(pa.array(names, type=pa.string()), pa.array(idx, type=pa.int64()))
    if valid is not None:
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))
    return arr


def _request_ids(prefix: str, n: int) -> pa.Array:
    idx = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(idx, 10, "0"), "")


def _requests_table(
    arr: Arrivals,
    fleet: Fleet,
    res: EngineResult,
    asked,
    cached,
    out,
    post,
    err_pick,
    inst_pick,
    source_file,
    prefix,
) -> pa.Table:
    n = len(arr)
    st = res.status
    ran = res.first_token_s >= 0  # got at least one token (ok, error)
    # durations from event times on the microsecond grid, so scheduled_time = arrival_time + queue_time_s exactly
    a_us = np.rint(arr.t_s * 1e6)
    s_us, f_us, e_us = (
        np.rint(np.where(ran, x, arr.t_s) * 1e6) for x in (res.scheduled_s, res.first_token_s, res.finish_s)
    )
    timeout_us = np.rint(fleet.queue_timeout_s * 1e6) if np.isfinite(fleet.queue_timeout_s) else 0.0
    queue = np.where(ran, s_us - a_us, np.where(st == TIMEOUT, timeout_us, 0.0)) / 1e6
    prefill = (f_us - s_us) / 1e6
    decode = (e_us - f_us) / 1e6
    post = np.maximum(np.rint(post * 1e6), 1.0 if fleet.post_median_s > 0 else 0.0) / 1e6
    e2e = queue + prefill + decode + post
    out_tok = np.where(ran, out, 0)
    tpot_ok = ran & (out_tok > 1)
    tpot = np.where(tpot_ok, (e2e - (queue + prefill)) / np.maximum(out_tok - 1, 1), 0.0)

    # instance: the engine's choice; an invalid request never reached one, the gateway names one at random
    pools = [[k for k, s in enumerate(fleet.instances) if s.model == m] for m in fleet.models]
    inst = res.instance.copy()
    for m, members in enumerate(pools):
        sel = (inst < 0) & (res.pool == m)
        inst[sel] = np.asarray(members)[inst_pick[sel] % len(members)]
    specs = fleet.instances
    served_model = np.asarray([fleet.models.index(s.model) for s in specs])[inst]
    fell_back = served_model != asked

    decision = np.array([_DECISION[int(c)] for c in range(5)], dtype=object)[st]
    decision = np.where(ran & (res.num_preemptions > 0), "preempted", decision)
    err = np.full(n, None, dtype=object)
    err[st == ERROR] = np.asarray(fleet.error_types, dtype=object)[err_pick[st == ERROR]]
    err[st == TIMEOUT] = "Timeout"
    err[st == REJECTED] = "RateLimitError"
    err[st == INVALID] = "BadRequestError"
    limit = arr.max_tokens if arr.max_tokens is not None else np.full(n, -1, dtype=np.int64)
    finish = np.where(st == OK, np.where(out_tok == limit, "length", "stop"), "abort").astype(object)
    finish[(st == REJECTED) | (st == INVALID)] = None

    cols = {
        "request_id": _request_ids(prefix, n),
        "arrival_time": _ts(arr.t0_epoch_s, arr.t_s),
        "queue_time_s": pa.array(queue, type=pa.float64()),
        "scheduled_time": _ts(arr.t0_epoch_s, s_us / 1e6, ran),
        "scheduler_decision": pa.array(decision, type=pa.string()),
        "num_preemptions": pa.array(res.num_preemptions, type=pa.int64()),
        "prompt_tokens": pa.array(arr.prompt_tokens, type=pa.int64()),
        "output_tokens": pa.array(out_tok, type=pa.int64()),
        "cached_prompt_tokens": pa.array(np.where(st == INVALID, 0, cached), type=pa.int64()),
        "ttft_s": _f(queue + prefill, ran),
        "tpot_s": _f(tpot, tpot_ok),
        "prefill_time_s": _f(prefill, ran),
        "decode_time_s": _f(decode, ran),
        "instance": _take([s.name for s in specs], inst),
        "model": _take(list(fleet.models), served_model),
        "model_version": _take([s.model_version for s in specs], inst),
        "quantization": _take([s.quantization for s in specs], inst),
        "route": pa.array(np.where(fell_back, "fallback", "primary"), type=pa.string()),
        "fallback_from": _take(list(fleet.models), asked, fell_back),
        "status": pa.array(_STATUS[st], type=pa.string()),
        "error_type": pa.array(err, type=pa.string()),
        "finish_reason": pa.array(finish, type=pa.string()),
        "e2e_latency_s": pa.array(e2e, type=pa.float64()),
        "source_format": pa.array(np.full(n, SOURCE_FORMAT, dtype=object), type=pa.string()),
        "source_file": pa.array(np.full(n, source_file, dtype=object), type=pa.string()),
        "source_line": pa.array(np.arange(1, n + 1, dtype=np.int64)),
    }
    return conform(pa.table(cols), "requests")


def _samples_table(t0: float, fleet: Fleet, res: EngineResult) -> pa.Table:
    s = res.samples
    inst = s["instance"].astype(np.int64)
    k = len(fleet.instances)
    dt = fleet.sample_interval_s

    # samples are written tick by tick for every instance in order, so a per-instance diff is a stride-k diff
    def rate(cum: np.ndarray) -> np.ndarray:
        d = cum.astype(np.float64)
        d[k:] = d[k:] - cum[:-k]
        return d

    cap = np.asarray([sp.service.kv_capacity_tokens for sp in fleet.instances])[inst]
    specs = fleet.instances
    cols = {
        "time": _ts(t0, s["time_s"]),
        "instance": _take([sp.name for sp in specs], inst),
        "model": _take([sp.model for sp in specs], inst),
        "num_running": pa.array(s["running"], type=pa.float64()),
        "num_waiting": pa.array(s["waiting"], type=pa.float64()),
        "num_preempted": pa.array(rate(s["preempt_cum"]), type=pa.float64()),
        "kv_cache_usage": pa.array(np.clip(s["kv_used"] / cap, 0.0, 1.0), type=pa.float64()),
        "kv_cache_capacity_tokens": pa.array(cap, type=pa.int64()),
        "prompt_tokens_per_s": pa.array(rate(s["prompt_cum"]) / dt, type=pa.float64()),
        "generation_tokens_per_s": pa.array(rate(s["gen_cum"]) / dt, type=pa.float64()),
        "gpu_count": _take_int([sp.gpu_count for sp in specs], inst),
        "gpu_type": _take([sp.gpu_type for sp in specs], inst),
        "source_format": pa.array(np.full(len(inst), SOURCE_FORMAT, dtype=object), type=pa.string()),
        "source_file": pa.nulls(len(inst), pa.string()),
    }
    return conform(pa.table(cols), "engine_samples")


def _take_int(values: list[int], idx: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)[idx], type=pa.int64())

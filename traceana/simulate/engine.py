"""The discrete-event core: gateway routing plus continuous batching per instance.

Time inside an instance is kept in two clocks: wall time ``now`` (s) and the
decode step counter ``G`` (every running request gains one token per step).
A request admitted at step ``G_a`` with ``rem`` tokens left finishes at step
``G_a + rem``, so completions sit in a heap keyed by step and stay valid when
a prefill stalls the batch or the batch size changes. Between events the step
time is constant, ``step_s(b) = decode_base_s + decode_s_per_seq * b``, so the
next event's wall time is ``now + (G_event - G) * step_s(b)``. KV use is
``sum(ctx0_i) + b * G - sum(G_a_i)`` (ctx0 = prompt + tokens generated before
admission); the step at which it reaches capacity is a second event kind, a
preemption of the most recently admitted request (vLLM's recompute policy).

The cost per request is a handful of dict/heap operations; there is no Python
object per token. Requests are plain integer indices into flat arrays.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush

import numpy as np

from traceana.simulate.fleet import Fleet

OK, ERROR, TIMEOUT, REJECTED, INVALID = 0, 1, 2, 3, 4
INF = float("inf")


class _Inst:
    __slots__ = (
        "idx",
        "pool",
        "p0",
        "p1",
        "d0",
        "d1",
        "maxb",
        "cap",
        "now",
        "G",
        "b",
        "S_ctx",
        "S_adm",
        "heap",
        "running",
        "waiting",
        "next_t",
        "aid",
        "ptok",
        "gcnt",
        "npre",
    )

    def __init__(self, idx: int, pool: int, spec) -> None:
        sv = spec.service
        self.idx, self.pool = idx, pool
        self.p0, self.p1 = sv.prefill_base_s, sv.prefill_s_per_token
        self.d0, self.d1 = sv.decode_base_s, sv.decode_s_per_seq
        self.maxb, self.cap = sv.max_batch, sv.kv_capacity_tokens
        self.now = self.G = self.S_ctx = self.S_adm = 0.0
        self.b = self.aid = self.ptok = self.npre = 0
        self.gcnt = 0.0
        self.heap: list = []
        self.running: dict[int, int] = {}
        self.waiting: deque[int] = deque()
        self.next_t = INF


@dataclass
class EngineResult:
    """Per-request event times (s since t0; -1 = never) and per-instance samples."""

    instance: np.ndarray  # int64, -1 when never routed (invalid)
    pool: np.ndarray  # int64 model index that served (differs from the asked one on fallback)
    scheduled_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    num_preemptions: np.ndarray
    status: np.ndarray  # int8: OK, ERROR, TIMEOUT, REJECTED, INVALID
    samples: dict[str, np.ndarray]


def run_engine(
    fleet: Fleet,
    t_s: np.ndarray,
    prompt_tokens: np.ndarray,
    cached_tokens: np.ndarray,
    output_tokens: np.ndarray,
    pool: np.ndarray,
    fails: np.ndarray,
    rng: np.random.Generator,
) -> EngineResult:
    """Simulate ``fleet`` serving requests sorted by ``t_s``; see the module docstring.

    ``output_tokens`` is what each request generates before it stops (already cut
    short for the requests in ``fails``, which end with status ERROR).
    ``pool`` is the index into ``fleet.models`` of the model asked for.
    """
    n = len(t_s)
    models = fleet.models
    insts = [_Inst(k, models.index(spec.model), spec) for k, spec in enumerate(fleet.instances)]
    pools = [[s for s in insts if s.pool == m] for m in range(len(models))]
    fb_of: list[tuple[int, int] | None] = [None] * len(models)
    for fb in fleet.fallbacks:
        fb_of[models.index(fb.from_model)] = (models.index(fb.to_model), fb.queue_threshold)
    # the longest request an instance of each pool can hold at all (else: invalid, HTTP 400)
    fit = [min(fleet.max_model_len, min(s.cap for s in pl) - 1) for pl in pools]

    tarr = t_s.tolist()
    prompt = prompt_tokens.tolist()
    cached = cached_tokens.tolist()
    out = output_tokens.tolist()
    want = pool.tolist()
    total = (prompt_tokens + output_tokens).tolist()
    pick2 = rng.random((n, 2)).tolist() if any(len(p) > 8 for p in pools) else None

    sched = array("d", [-1.0]) * n
    first = array("d", [-1.0]) * n
    finish = array("d", [-1.0]) * n
    gen_done = array("q", [0]) * n
    adm = array("d", [0.0]) * n
    ctx0a = array("q", [0]) * n
    npre = array("q", [0]) * n
    inst_of = array("q", [-1]) * n
    served = array("q", pool.tolist())
    status = array("b", [OK]) * n
    timeout = fleet.queue_timeout_s
    qlim = fleet.queue_limit

    def run_until(s: _Inst, t: float) -> None:
        now, G, b, S_ctx, S_adm = s.now, s.G, s.b, s.S_ctx, s.S_adm
        heap, running, waiting = s.heap, s.running, s.waiting
        cap, maxb, d0, d1, p0, p1 = s.cap, s.maxb, s.d0, s.d1, s.p0, s.p1
        if b == 0 and now < t and not waiting:
            now = t  # idle: the clock jumps; with a queue it resumes where the last prefill ended
        while True:
            # admit only up to the caller's time: a prefill that runs past t holds the queue until then
            while waiting and b < maxb and now <= t:
                r = waiting[0]
                gd = gen_done[r]
                if gd == 0 and now - tarr[r] > timeout:
                    waiting.popleft()
                    status[r] = TIMEOUT
                    continue
                ctx = prompt[r] + gd
                if S_ctx + b * G - S_adm + ctx + 1 > cap:
                    break
                waiting.popleft()
                if gd == 0:
                    sched[r] = now
                    work = ctx - cached[r]
                    now += p0 + p1 * work
                    first[r] = now
                else:
                    work = ctx
                    now += p0 + p1 * work
                s.ptok += work
                gd += 1
                gen_done[r] = gd
                s.gcnt += 1
                rem = out[r] - gd
                if rem <= 0:
                    finish[r] = now
                    continue
                b += 1
                s.aid += 1
                running[r] = s.aid
                ctx += 1
                S_ctx += ctx
                S_adm += G
                adm[r] = G
                ctx0a[r] = ctx
                heappush(heap, (G + rem, s.aid, r))
            if b == 0:
                if now < t:
                    now = t
                s.next_t = now if waiting else INF  # waiting with b == 0: a prefill ran past t
                break
            while True:
                F, aid, r = heap[0]
                if running.get(r) == aid:
                    break
                heappop(heap)
            st = d0 + d1 * b
            Gk = (cap - S_ctx + S_adm) / b
            Gn = F if F <= Gk else Gk
            te = now + (Gn - G) * st
            if te > t:
                if now < t:
                    G += (t - now) / st
                    now = t
                s.next_t = now if (waiting and b < maxb and now > t) else te
                break
            now, G = te, Gn
            if F <= Gk:
                while heap and heap[0][0] <= G:
                    F2, aid2, r2 = heappop(heap)
                    if running.get(r2) != aid2:
                        continue
                    del running[r2]
                    b -= 1
                    S_ctx -= ctx0a[r2]
                    S_adm -= adm[r2]
                    s.gcnt += F2 - adm[r2]
                    finish[r2] = now
                if b == 0:  # drop the float residue of the running sums
                    S_ctx = S_adm = 0.0
            else:
                r2, _ = running.popitem()  # the most recently admitted (recompute preemption)
                b -= 1
                S_ctx -= ctx0a[r2]
                S_adm -= adm[r2]
                k = int(G - adm[r2])
                s.gcnt += k
                gen_done[r2] += k
                npre[r2] += 1
                s.npre += 1
                waiting.appendleft(r2)
        s.now, s.G, s.b, s.S_ctx, s.S_adm = now, G, b, S_ctx, S_adm

    names = ("time_s", "instance", "running", "waiting", "kv_used", "prompt_cum", "gen_cum", "preempt_cum")
    # typed arrays: 8 bytes a value instead of a Python object (a big fleet-day has millions of samples)
    cols = {k: array("q" if k in ("instance", "running", "waiting", "preempt_cum") else "d") for k in names}
    c_time, c_inst, c_run, c_wait, c_kv, c_prompt, c_gen, c_pre = cols.values()

    def sample(tick: float) -> None:
        for s in insts:
            if s.next_t <= tick:
                run_until(s, tick)
            b = s.b
            G = s.G
            if b and s.now < tick:  # no event before the tick: read the state without moving the instance
                G += (tick - s.now) / (s.d0 + s.d1 * b)
            inflight = b * G - s.S_adm
            c_time.append(tick)
            c_inst.append(s.idx)
            c_run.append(b)
            c_wait.append(len(s.waiting))
            c_kv.append(s.S_ctx + inflight)
            c_prompt.append(s.ptok)
            c_gen.append(s.gcnt + inflight)
            c_pre.append(s.npre)

    dt = fleet.sample_interval_s
    tick = 0.0
    for i in range(n):
        t = tarr[i]
        while tick <= t:
            sample(tick)
            tick += dt
        p = want[i]
        if total[i] > fit[p]:
            status[i] = INVALID
            continue
        for attempt in (0, 1):
            cands = pools[p]
            if pick2 is not None and len(cands) > 8:  # power of two choices in big pools
                u = pick2[i]
                cands = (cands[int(u[0] * len(cands))], cands[int(u[1] * len(cands))])
            best, bl = None, 1 << 62
            for s in cands:
                if s.next_t <= t:
                    run_until(s, t)
                load = s.b + len(s.waiting)
                if load < bl:
                    best, bl = s, load
            fb = fb_of[p]
            if attempt == 0 and fb is not None and len(best.waiting) >= fb[1] and total[i] <= fit[fb[0]]:
                p = fb[0]
                served[i] = p
                continue
            break
        inst_of[i] = best.idx
        if len(best.waiting) >= qlim:
            status[i] = REJECTED
            continue
        b = best.b
        if b < best.maxb:
            # candidates with an event before t were run to t above; bring this one's clocks to t
            # (an idle instance, or a batch between events) before the new request can be admitted
            if best.now < t:
                if b:
                    best.G += (t - best.now) / (best.d0 + best.d1 * b)
                best.now = t
            best.waiting.append(i)
            run_until(best, t)
        else:
            best.waiting.append(i)
    while any(s.b or s.waiting for s in insts):
        sample(tick)
        tick += dt
    sample(tick)

    st = np.frombuffer(status, dtype=np.int8).copy()
    fin = np.frombuffer(finish, dtype=np.float64).copy()
    st[(st == OK) & fails & (fin >= 0)] = ERROR
    return EngineResult(
        instance=np.frombuffer(inst_of, dtype=np.int64).copy(),
        pool=np.frombuffer(served, dtype=np.int64).copy(),
        scheduled_s=np.frombuffer(sched, dtype=np.float64).copy(),
        first_token_s=np.frombuffer(first, dtype=np.float64).copy(),
        finish_s=fin,
        num_preemptions=np.frombuffer(npre, dtype=np.int64).copy(),
        status=st,
        samples={
            k: np.frombuffer(v, dtype=np.int64 if v.typecode == "q" else np.float64).copy()
            for k, v in cols.items()
        },
    )

"""CI smoke test of benchmarks/ (issue 5): on a small generated trace, traceana's core report, the
hand-written reference pass and the pandas script agree number by number. No timing here."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        yield {
            name: importlib.import_module(name)
            for name in ("bench_common", "gen", "impl_reference", "impl_traceana", "impl_pandas")
        }
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def results(bench, tmp_path_factory):
    data = bench["gen"].generate(
        60_000, seed=11, chunk_rows=25_000, out=tmp_path_factory.mktemp("bench") / "d", log=lambda _: None
    )
    out = {}
    for name in ("reference", "traceana", "pandas"):
        phases = bench["bench_common"].Phases()
        out[name] = {"result": bench[f"impl_{name}"].run(data, phases)}
    return out


@pytest.mark.parametrize("name", ["traceana", "pandas"])
def test_core_report_agrees_with_reference(bench, results, name):
    mismatches = bench["bench_common"].compare(results["reference"], results[name])
    assert mismatches == []


def test_core_report_covers_every_section(results):
    r = results["reference"]["result"]
    # 4 models x 3 metrics, 16 instances, 3 SLOs; the generated incident fires a page on each SLO
    assert len(r["latency"]) == 12
    assert len(r["concurrency"]) == 16 and len(r["cost"]) == 16
    assert sorted(r["burn"]) == ["availability", "e2e-60s", "ttft-2500ms"]
    for name, b in r["burn"].items():
        assert any(a["severity"] == "page" for a in b["alerts"]), name
        assert sum(b["total"]) == 60_000
    assert sum(c["arrivals"] for c in r["concurrency"].values()) <= 60_000
    assert sum(c["requests"] for c in r["cost"].values()) == 60_000


def test_compare_reports_a_changed_number(bench, results):
    import copy

    other = copy.deepcopy(results["reference"])
    key = next(iter(other["result"]["latency"]))
    other["result"]["latency"][key]["p99"] *= 1 + 1e-7
    other["result"]["concurrency"][next(iter(other["result"]["concurrency"]))]["empirical_max"] += 1
    assert len(bench["bench_common"].compare(results["reference"], other)) == 2


def test_reference_sweep_hand_computed(bench):
    # one instance; in flight over [0, 2), [1, 3), [1, 2) s and a second instance over [0, 1), [1, 2)
    gid = np.array([0, 0, 0, 1, 1])
    arr_us = np.array([0, 1_000_000, 1_000_000, 0, 1_000_000])
    e2e = np.array([2.0, 2.0, 1.0, 1.0, 1.0])
    sw = bench["impl_reference"].sweep(gid, arr_us, e2e, 2)
    assert sw["span"] == 3.0
    assert list(sw["arrivals"]) == [3, 2]
    assert list(sw["area"]) == [5.0, 2.0]
    # instance 0: level 1 for 1 s, 3 for 1 s, 1 for 1 s -> max 3; time at <= 1 is 2 s < 0.99 * 3 s -> p99 3
    # instance 1: the departure at 1 s comes before the arrival at 1 s, so never 2 in flight; idle 1 s of 3
    assert list(sw["max"]) == [3, 1]
    assert list(sw["p99"]) == [3, 1]
    assert list(sw["busy_s"]) == [3.0, 2.0]


@pytest.mark.parametrize("n,q", [(20, 0.5), (100, 0.9), (137, 0.95), (1000, 0.99), (1000, 0.999), (3, 0.5)])
def test_ci_ranks_against_exact_binomial(bench, n, q):
    half = 0.025
    pmf = [math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(n + 1)]
    cdf = np.cumsum(pmf)
    lows = [lo for lo in range(1, n + 1) if cdf[lo - 1] <= half]
    highs = [u for u in range(1, n + 1) if 1 - cdf[u - 1] <= half]  # P(B >= u)
    expected = (lows[-1], highs[0]) if lows and highs else None
    assert bench["bench_common"].ci_ranks(n, q) == expected


def test_busy_hours_is_the_union_of_intervals():
    """traceana's busy time (which the benchmarks compare with a ns sweep at 1e-6) against a
    brute-force union in microseconds: ties, touching and nested intervals, nulls, clipping."""
    import datetime as dt

    import polars as pl

    from traceana.metrics import cost

    rng = np.random.default_rng(3)
    lo_us, hi_us = 10_000_000, 30_000_000
    for trial in range(150):
        n = int(rng.integers(1, 30))
        inst = rng.choice(np.array(["a", "b", "c", None], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])
        arr = rng.integers(0, 40, n) * 1_000_000
        if trial % 2:
            arr = np.sort(arr)  # arrival order: starts need no sort
        e2e = rng.choice(np.array([0.0, 0.5, 1.0, 2.0, 7.0, None, 1e-7], dtype=object), n)
        frame = pl.DataFrame(
            {
                "instance": list(inst),
                "arrival_time": pl.Series(arr).cast(pl.Datetime("us", "UTC")),
                "e2e_latency_s": pl.Series(list(e2e), dtype=pl.Float64),
            }
        )
        clip = trial % 3 == 1
        window = (
            dt.datetime.fromtimestamp(lo_us / 1e6, dt.UTC),
            dt.datetime.fromtimestamp(hi_us / 1e6, dt.UTC),
        )
        got = cost.busy_hours(frame, *window) if clip else cost.busy_hours(frame)
        covered: dict[str, set[int]] = {}
        for i in range(n):
            if inst[i] is None or e2e[i] is None:
                continue
            a, b = int(arr[i]), int(arr[i]) + round(e2e[i] * 1e6)
            if clip:
                a, b = max(a, lo_us), min(b, hi_us)
            if b > a:  # unit cells of 0.1 s: every endpoint here is a multiple of 0.1 s
                covered.setdefault(inst[i], set()).update(range(a // 100_000, b // 100_000))
        want = {k: len(v) * 100_000 / 3.6e9 for k, v in sorted(covered.items())}
        assert got["instance"].to_list() == list(want)
        assert got["busy_hours"].to_list() == pytest.approx(list(want.values()), rel=1e-12)


def test_ingest_designs_store_what_the_ingest_stores(bench, tmp_path):
    # benchmarks/ingest_designs.py compares designs by time: on valid rows they must keep the same data
    import subprocess

    import polars as pl

    from traceana.ingest import ingest_paths
    from traceana.store import open_store

    rows = 12_000  # ~6 MB: over the 4 MiB threshold of the DuckDB path
    data = bench["gen"].generate(
        rows, seed=5, jsonl=rows, chunk_rows=rows, out=tmp_path / "d", log=lambda _: None
    )
    src = data / "requests.jsonl"
    cols = ["request_id", "arrival_time", "ttft_s", "e2e_latency_s", "prompt_tokens", "status"]
    st = open_store(tmp_path / "committed")
    ingest_paths(st, [src])
    want = st.requests().select(cols).collect().sort("request_id")
    assert want.height == rows
    for variant in ("no-scan", "whole-file", "sql-filter"):
        out = tmp_path / variant
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "ingest_designs.py"),
                "--child",
                variant,
                str(src),
                str(out),
                str(rows),
            ],
            check=True,
        )
        got = (
            (open_store(out, create=False).requests() if out.is_dir() else pl.scan_parquet(out))
            .select(cols)
            .collect()
        )
        got = got.with_columns(pl.col("arrival_time").dt.convert_time_zone("UTC")).sort("request_id")
        assert got.equals(want), variant


def test_checksum_cost_benchmark_runs_at_smoke_size(bench, tmp_path):
    """benchmarks/checksum_cost.py at a tiny size: both variants produce a report and every part verifies (no timing)."""
    mod = importlib.import_module("checksum_cost")
    r = mod.measure(20_000, 1, tmp_path)
    assert r["rows"] == 20_000 and r["parts"] >= 1 and r["store_bytes"] > 0
    assert r["report_s_with_verify"] > 0 and r["report_s_without_verify"] > 0 and r["ratio"] > 0

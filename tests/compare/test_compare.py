"""compare end to end: real LLMPerf runs, a store against itself, slices of one input, the gate, sweeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from tests.report.report_frames import requests_frame, write_parquet
from traceana.cli import main
from traceana.compare import run_compare, run_sweep, write_compare
from traceana.compare.schema import compare_schema
from traceana.compare.sweep import oversaturated, pareto

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the checkout (as tests/conftest.py), or beside a worktree's parent (/work/wt/<branch>)
SAMPLES = next(
    (
        p / "formats" / "samples"
        for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
        if p.exists()
    ),
    ROOT.parent / "shared" / "formats" / "samples",
)
LLMPERF = SAMPLES / "llmperf"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
QUIET = ("no significant change", "not enough data")


def _rows(cmp: dict, ident: str, group: dict | None = None) -> dict:
    return next(r for r in cmp["metrics"] if r["id"] == ident and r["group"] == (group or {}))


def _frame(
    n: int, seed: int, scale: float = 1.0, fail: float = 0.0, version: str = "v1", start: datetime = T0
) -> list[dict]:
    rng = np.random.default_rng(seed)
    ttft = rng.lognormal(-1.5, 0.5, n) * scale
    e2e = ttft + rng.lognormal(0.0, 0.3, n)
    status = np.where(rng.random(n) < fail, "error", "ok")
    return [
        {
            "request_id": f"{version}-{i}",
            "arrival_time": start + timedelta(milliseconds=100 * i),
            "model": "m",
            "model_version": version,
            "status": str(status[i]),
            "ttft_s": float(ttft[i]),
            "e2e_latency_s": float(e2e[i]),
            "output_tokens": 50,
            "prompt_tokens": 100,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def llmperf_runs():
    a, b = LLMPERF / "anyscale_13b.json", LLMPERF / "bedrock_13b.json"
    if not (a.exists() and b.exists()):
        pytest.skip("shared LLMPerf samples not present")
    return a, b


def test_two_real_llmperf_runs(llmperf_runs, tmp_path):
    a, b = llmperf_runs
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(a),
            str(b),
            "--json",
            "--fail-on",
            "p50(ttft) > +10%",
            "--fail-on",
            "error_rate > +0.5pp",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 1, res.output
    cmp = json.loads(res.output)
    jsonschema.Draft202012Validator(compare_schema()).validate(cmp)
    raw_a, raw_b = json.loads(a.read_text()), json.loads(b.read_text())
    ok_ttft = {
        k: np.array([r["ttft_s"] for r in raw if r.get("error_code") is None])
        for k, raw in (("a", raw_a), ("b", raw_b))
    }
    row = _rows(cmp, "p50(ttft_s)")
    assert row["base"] == pytest.approx(np.percentile(ok_ttft["a"], 50))
    assert row["candidate"] == pytest.approx(np.percentile(ok_ttft["b"], 50))
    # a brute-force index-matrix bootstrap of the p50 difference agrees with the interval
    rng = np.random.default_rng(0)
    boot = np.quantile(
        ok_ttft["b"][rng.integers(0, len(ok_ttft["b"]), (4000, len(ok_ttft["b"])))], 0.5, axis=1
    ) - np.quantile(ok_ttft["a"][rng.integers(0, len(ok_ttft["a"]), (4000, len(ok_ttft["a"])))], 0.5, axis=1)
    assert row["ci"][0] == pytest.approx(np.quantile(boot, 0.025), abs=0.004)
    assert row["ci"][1] == pytest.approx(np.quantile(boot, 0.975), abs=0.004)
    assert row["verdict"] == "worse"
    err = _rows(cmp, "error_rate")
    failed_b = sum(r.get("error_code") is not None for r in raw_b)
    assert err["candidate"] == pytest.approx(failed_b / len(raw_b)) and err["base"] == 0.0
    assert err["verdict"] == "worse"
    # 150 requests cannot support a p99 comparison
    assert _rows(cmp, "p99(ttft_s)")["verdict"] == "not enough data"
    assert [r["rule"] for r in cmp["rules"] if r["fired"]] == ["p50(ttft) > +10%", "error_rate > +0.5pp"]
    assert cmp["adjustment"]["method"] == "holm"
    assert {p.name for p in tmp_path.iterdir()} == {"compare.html", "compare.md", "compare.json"}


def test_a_store_against_itself_changes_nothing(llmperf_runs, tmp_path):
    store = tmp_path / "store"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["ingest", str(llmperf_runs[0]), str(LLMPERF / "lepton_7b.json"), "--store", str(store)]
        ).exit_code
        == 0
    )
    res = runner.invoke(main, ["compare", str(store), str(store), "--json", "--fail-on", "p50(e2e) > +0%"])
    assert res.exit_code == 0, res.output
    cmp = json.loads(res.output)
    verdicts = {r["verdict"] for r in cmp["metrics"]}
    assert verdicts <= set(QUIET) and "no significant change" in verdicts
    assert all(r["diff"] == 0 for r in cmp["metrics"] if r["diff"] is not None and r["stat"] != "shift")
    assert not cmp["rules"][0]["fired"]


def test_slices_of_one_input_and_the_gate(tmp_path):
    rows = _frame(4000, 1, version="v1") + _frame(4000, 2, scale=1.3, fail=0.03, version="v2")
    path = tmp_path / "mixed.parquet"
    write_parquet(requests_frame(rows), path)
    args = [
        "compare",
        str(path),
        "--base",
        "model_version=v1",
        "--candidate",
        "model_version = v2",
        "--by",
        "model",
        "--json",
    ]
    res = CliRunner().invoke(
        main,
        [
            *args,
            "--fail-on",
            "p50(ttft) > +10%",
            "--fail-on",
            "p50(ttft) > +50%",
            "--fail-on",
            "error_rate > +0.5pp",
            "--fail-on",
            "p50(ttft, user-visible) > +10%",
        ],
    )
    assert res.exit_code == 1, res.output
    cmp = json.loads(res.output)
    v1 = np.array([r["ttft_s"] for r in rows[:4000]])
    v2 = np.array([r["ttft_s"] for r in rows[4000:] if r["status"] == "ok"])
    p50 = _rows(cmp, "p50(ttft_s)")
    assert p50["base"] == pytest.approx(np.percentile(v1, 50)) and p50["candidate"] == pytest.approx(
        np.percentile(v2, 50)
    )
    assert p50["verdict"] == "worse" and _rows(cmp, "p50(ttft_s)", {"model": "m"})["verdict"] == "worse"
    user = _rows(cmp, "p50(ttft_s, user-visible)")
    n_failed = 4000 - len(v2)
    assert user["candidate"] == pytest.approx(
        np.percentile(np.concatenate((v2, np.full(n_failed, np.inf))), 50)
    )
    outcome = {r["rule"]: r["fired"] for r in cmp["rules"]}
    assert outcome == {
        "p50(ttft) > +10%": True,
        "p50(ttft) > +50%": False,
        "error_rate > +0.5pp": True,
        "p50(ttft, user-visible) > +10%": True,
    }
    res = CliRunner().invoke(main, [*args, "--fail-on", "p50(ttft) > +50%"])
    assert res.exit_code == 0, res.output


def test_time_windows_of_one_input(tmp_path):
    later = T0 + timedelta(hours=1)
    rows = _frame(3000, 3) + _frame(3000, 3, version="v1b", start=later)  # the same draws an hour later
    path = tmp_path / "two_hours.parquet"
    write_parquet(requests_frame(rows), path)
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(path),
            "--base-window",
            f"..{later.isoformat()}",
            "--candidate-window",
            f"{later.isoformat()}..",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    cmp = json.loads(res.output)
    assert cmp["base"]["requests"] == cmp["candidate"]["requests"] == 3000
    assert {r["verdict"] for r in cmp["metrics"]} <= set(QUIET)


@pytest.mark.parametrize(
    "rule,hint",
    [
        ("p99(foo) > +10%", "unknown latency"),
        ("p99(ttft) >> 3", "cannot parse"),
        ("p99(ttft) > +1pp", "percentage points"),
        ("error_rate > 3ms", "latency percentiles"),
        ("nonsense > 1", "unknown metric"),
    ],
)
def test_a_bad_rule_is_exit_2_naming_it(rule, hint, tmp_path):
    path = tmp_path / "x.parquet"
    write_parquet(requests_frame(_frame(50, 4)), path)
    res = CliRunner().invoke(main, ["compare", str(path), str(path), "--fail-on", rule])
    assert res.exit_code == 2
    assert rule in res.output and hint in res.output and "Traceback" not in res.output


def test_same_input_without_slices_is_a_usage_error(tmp_path):
    path = tmp_path / "x.parquet"
    write_parquet(requests_frame(_frame(50, 4)), path)
    res = CliRunner().invoke(main, ["compare", str(path)])
    assert res.exit_code == 2 and "same requests" in res.output


def test_html_escapes_user_strings(tmp_path):
    evil = "</script><script>alert(1)</script>"
    base = requests_frame([dict(r, model=evil) for r in _frame(300, 5)])
    cand = requests_frame([dict(r, model=evil) for r in _frame(300, 6, scale=1.5)])
    cmp = run_compare(base, cand, by=["model"], labels=(evil, "<b>c</b>"), title=evil)
    html = (write_compare(cmp, tmp_path)[2]).read_text()
    assert evil not in html and "<b>c</b>" not in html
    assert "&lt;/script&gt;" in html
    md = (tmp_path / "compare.md").read_text()
    assert "<script>" not in md


def test_pareto_and_oversaturation_equal_brute_force():
    pts = [
        {
            "label": "c1",
            "offered_rate_per_s": 1.0,
            "achieved_rate_per_s": 1.0,
            "median_queue_s": 0.01,
            "lat": 1.0,
            "thr": 10.0,
        },
        {
            "label": "c2",
            "offered_rate_per_s": 2.0,
            "achieved_rate_per_s": 2.0,
            "median_queue_s": 0.02,
            "lat": 1.2,
            "thr": 20.0,
        },
        {
            "label": "c3",
            "offered_rate_per_s": 4.0,
            "achieved_rate_per_s": 3.0,
            "median_queue_s": 0.50,
            "lat": 3.0,
            "thr": 19.0,
        },
        {
            "label": "c4",
            "offered_rate_per_s": 8.0,
            "achieved_rate_per_s": 3.1,
            "median_queue_s": 2.00,
            "lat": 6.0,
            "thr": 21.0,
        },
    ]
    # c3 is dominated by c2 (faster and more throughput); the others trade latency for throughput
    assert pareto(pts, "lat", "thr") == [True, True, False, True]
    assert oversaturated(pts) == [False, False, True, True]


def test_sweep_of_real_runs_without_send_times(llmperf_runs):
    res = CliRunner().invoke(
        main, ["compare", "--sweep", *map(str, sorted(LLMPERF.glob("*.json"))), "--json"]
    )
    assert res.exit_code == 0, res.output
    cmp = json.loads(res.output)
    jsonschema.Draft202012Validator(compare_schema()).validate(cmp)
    pts = cmp["sweep"]["points"]
    assert len(pts) == 3 and all(p["p99_latency_s"] is not None for p in pts)
    # LLMPerf records no send times: no rate, so no frontier and nothing over-saturated, and the note says why
    assert all(p["achieved_rate_per_s"] is None and not p["pareto"] and not p["oversaturated"] for p in pts)
    assert cmp["sweep"]["note"].startswith("No rate for")


def _queue_run(rate: float, seconds: float = 60.0, service_s: float = 1 / 3, seed: int = 0) -> list[dict]:
    """One server, fixed service time, Poisson arrivals: Lindley's recursion for the queue."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, int(rate * seconds)))
    rows, free_at = [], 0.0
    for i, a in enumerate(arrivals):
        start = max(a, free_at)
        free_at = start + service_s
        rows.append(
            {
                "request_id": f"{rate}-{i}",
                "arrival_time": T0 + timedelta(seconds=float(a)),
                "status": "ok",
                "queue_time_s": start - a,
                "ttft_s": start - a + 0.05,
                "e2e_latency_s": free_at - a,
                "output_tokens": 20,
            }
        )
    return rows


def test_sweep_flags_an_over_saturated_server():
    # capacity 3 req/s: offered 1 and 2 are served as offered; 4 and 8 fall behind while the queue grows
    runs = [(f"rate{r}", requests_frame(_queue_run(r, seed=int(r)))) for r in (1.0, 2.0, 4.0, 8.0)]
    pts = run_sweep(runs)["sweep"]["points"]
    assert [p["oversaturated"] for p in pts] == [False, False, True, True]
    for p, r in zip(pts, (1.0, 2.0, 4.0, 8.0), strict=True):
        assert p["offered_rate_per_s"] == pytest.approx(r, rel=0.25)
    assert pts[3]["achieved_rate_per_s"] == pytest.approx(3.0, rel=0.05)
    # the lightest run has the lowest p99, so nothing dominates it
    assert pts[0]["pareto"]


def test_frames_without_a_latency_still_compare():
    base = requests_frame([{k: v for k, v in r.items() if k != "ttft_s"} for r in _frame(100, 7)])
    cmp = run_compare(base, base, rules=["p99(ttft) > +10%"])
    assert cmp["rules"][0]["status"].startswith("not evaluated")
    assert pl.DataFrame(cmp["metrics"]).height > 0


def test_slo_attainment_goodput_and_cost_equal_brute_force(tmp_path):
    v1 = _frame(3000, 8, version="v1")
    v2 = _frame(3000, 9, scale=1.4, fail=0.01, version="v2", start=T0 + timedelta(hours=1))
    rows = [dict(r, instance="gpu-0") for r in v1 + v2]
    path = tmp_path / "fleet.parquet"
    write_parquet(requests_frame(rows), path)
    cfg = tmp_path / "traceana.toml"
    cfg.write_text(
        '[gpu_prices]\nH100 = 4.0\n\n[[slo]]\nname = "ttft-300ms"\nobjective = 0.9\nmetric = "ttft_s"\nop = "lte"\n'
        'threshold = 0.3\n\n[[deployment]]\ninstance = "gpu-0"\nmodel = "m"\ngpu_type = "H100"\ngpu_count = 2\n'
        f'start = "{T0.isoformat()}"\nend = "{(T0 + timedelta(hours=3)).isoformat()}"\n'
    )
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(path),
            "--base",
            "model_version=v1",
            "--candidate",
            "model_version=v2",
            "--config",
            str(cfg),
            "--json",
            "--adjust",
            "bh",
        ],
    )
    assert res.exit_code == 0, res.output
    cmp = json.loads(res.output)
    assert cmp["adjustment"]["method"] == "bh" and "Benjamini-Hochberg" in cmp["adjustment"]["name"]
    for side, key in ((v1, "base"), (v2, "candidate")):
        good = sum(r["status"] == "ok" and r["ttft_s"] <= 0.3 for r in side)
        assert _rows(cmp, "attainment(ttft-300ms)")[key] == pytest.approx(good / len(side))
        start = min(r["arrival_time"] for r in side)
        stop = max(r["arrival_time"] + timedelta(seconds=r["e2e_latency_s"]) for r in side)
        seconds = (stop - start).total_seconds()
        assert _rows(cmp, "goodput")[key] == pytest.approx(good / seconds, rel=1e-6)
        tokens = sum(r["output_tokens"] for r in side)
        assert _rows(cmp, "cost_per_1m_tokens")[key] == pytest.approx(
            seconds / 3600 * 2 * 4.0 / (tokens / 1e6), rel=1e-5
        )
    assert _rows(cmp, "attainment(ttft-300ms)")["verdict"] == "worse"
    assert _rows(cmp, "goodput")["verdict"] == "worse"


def test_an_empty_side_is_an_error_not_a_pass(tmp_path):
    path = tmp_path / "x.parquet"
    write_parquet(requests_frame(_frame(100, 1)), path)
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(path),
            "--base",
            "model_version=zzz",
            "--candidate",
            "model_version=v1",
            "--fail-on",
            "p50(ttft) > +10%",
        ],
    )
    assert res.exit_code == 2 and "model_version=zzz: no requests" in res.output


def test_compare_html_is_self_contained(tmp_path):
    cmp = run_compare(requests_frame(_frame(400, 1)), requests_frame(_frame(400, 2, scale=1.2)))
    html = write_compare(cmp, tmp_path)[2].read_text()
    assert "<script src=" not in html and "<link" not in html
    specs = json.loads(html.split('id="traceana-specs">')[1].split("</script>")[0])
    assert set(specs) == {"forest", "ecdf"} and f'data-charts-expected="{len(specs)}"' in html

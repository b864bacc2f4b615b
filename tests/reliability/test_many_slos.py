"""Row '1,000 SLOs' of issue 17: the report evaluates every SLO, charts a bounded number of them.

Not timed: it asserts what is bounded (the SLOs and points in series.burn, report.json's size) and
checks every SLO's attainment against a count done here, row by row, in plain Python.
"""

from __future__ import annotations

import json
import operator
from datetime import UTC, datetime, timedelta

import polars as pl

from tests.reliability.conftest import run, write_rows
from traceana.config import SLO
from traceana.filters import parse_filter
from traceana.metrics.slo import burn_series_many
from traceana.report.build import MAX_CHARTED_SLOS

N_ROWS = 2000
N_SLOS = 1000
METRICS = ("ttft_s", "e2e_latency_s")
FILTERS = (None, ("output_tokens", operator.gt, 30), ("model", operator.eq, "m1"))
OPS = {"lte": operator.le, "lt": operator.lt}


def _slo(i: int) -> dict:
    metric = METRICS[i % 2]
    thr = round((0.1 + (i % 50) * 0.02) if metric == "ttft_s" else (1.5 + (i % 50) * 0.15), 4)
    return {
        "name": f"s{i:04d}",
        "metric": metric,
        "op": ("lte", "lt")[(i // 2) % 2],
        "threshold": thr,
        "objective": 0.5 + (i % 7) * 0.05,
        "filter": FILTERS[(i // 4) % 3],
    }


def _toml(slos: list[dict]) -> str:
    out = []
    for s in slos:
        lines = [
            "[[slo]]",
            f'name = "{s["name"]}"',
            f'metric = "{s["metric"]}"',
            f'op = "{s["op"]}"',
            f"threshold = {s['threshold']}",
            f"objective = {s['objective']}",
        ]
        if s["filter"]:
            col, op, val = s["filter"]
            lines.append(f'filter = "{col} {">" if op is operator.gt else "="} {val}"')
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _brute(rows: list[dict], s: dict) -> tuple[int, int]:
    """(total, good) of one SLO by a loop over the rows (every row is ok; the trace is shorter than 30 d)."""
    total = good = 0
    for r in rows:
        if s["filter"] and not s["filter"][1](r[s["filter"][0]], s["filter"][2]):
            continue
        total += 1
        good += OPS[s["op"]](r[s["metric"]], s["threshold"])
    return total, good


def test_a_thousand_slos_are_all_evaluated_and_a_bounded_number_charted(tmp_path):
    src = write_rows(tmp_path / "a.jsonl", N_ROWS)
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    slos = [_slo(i) for i in range(N_SLOS)]
    cfg = tmp_path / "t.toml"
    cfg.write_text(_toml(slos))
    res = run("report", src, "--out", tmp_path / "o", "--no-fail", "--config", cfg)
    assert res.exit_code == 0, res.stderr
    out = tmp_path / "o" / "report.json"
    rep = json.loads(out.read_text())

    # every SLO is in the table, with the attainment a row-by-row count gives
    got = {r["name"]: r for r in rep["slo"]}
    assert len(got) == N_SLOS
    for s in slos:
        total, good = _brute(rows, s)
        assert got[s["name"]]["total"] == total, s
        assert got[s["name"]]["attainment"] == good / total, s

    # the charts carry at most MAX_CHARTED_SLOS SLOs: those with the least budget remaining
    burn = rep["series"]["burn"]
    charted = {b["slo"] for b in burn}
    assert len(charted) == MAX_CHARTED_SLOS

    def budget_left(s: dict) -> float:  # 1 - bad / allowed bad, allowed = (1 - objective) * total
        total, good = _brute(rows, s)
        return 1 - (total - good) / ((1 - s["objective"]) * total)

    least = sorted(budget_left(s) for s in slos)[MAX_CHARTED_SLOS - 1]
    for name in charted:  # nothing charted has more budget left than the 10th least (ties aside)
        assert got[name]["budget_remaining"] <= least + 1e-9
    # points per charted SLO: one per plot bucket, the same for each, so the size is bounded
    per = {n: sum(b["slo"] == n for b in burn) for n in charted}
    assert len(set(per.values())) == 1
    assert len(burn) == MAX_CHARTED_SLOS * next(iter(per.values()))
    assert any("the other" in w and str(N_SLOS - MAX_CHARTED_SLOS) in w for w in rep.get("warnings") or []), (
        rep.get("warnings")
    )
    # report.json: well under what 1,000 burn series would take (the SLO rows themselves stay)
    assert out.stat().st_size < 5_000_000
    # alerts are still computed for SLOs that are not charted
    assert any(r["alerts"] for n, r in got.items() if n not in charted)


def test_burn_series_many_counts_each_bucket_like_a_loop():
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    n = 600
    df = pl.DataFrame(
        {
            "arrival_time": [t0 + timedelta(seconds=7 * i) for i in range(n)],
            "status": ["ok" if i % 11 else "error" for i in range(n)],
            "ttft_s": [None if i % 13 == 0 else (i % 10) / 10 for i in range(n)],
            "output_tokens": [i % 40 for i in range(n)],
        }
    )
    slos = [
        SLO(
            name=f"x{k}{'f' if f else ''}",
            metric="ttft_s",
            op="lte",
            threshold=k / 10,
            objective=0.9,
            total_filter=f,
        )
        for k in range(5)
        for f in (None, parse_filter("output_tokens > 20"))
    ]
    got = {s.name: t for s, t in burn_series_many(df, slos, every="5m", per_pass=3)}
    assert len(got) == len(slos)
    for s in slos:
        want: dict[datetime, list[int]] = {}
        for r in df.iter_rows(named=True):
            if s.total_filter is not None and not r["output_tokens"] > 20:
                continue
            a = r["arrival_time"]
            b = a.replace(minute=a.minute - a.minute % 5, second=0, microsecond=0)
            c = want.setdefault(b, [0, 0])
            c[0] += 1
            c[1] += not (r["status"] == "ok" and r["ttft_s"] is not None and r["ttft_s"] <= s.threshold)
        table = got[s.name]
        nonzero = {
            r["window_start"]: [r["total"], r["bad"]] for r in table.iter_rows(named=True) if r["total"]
        }
        assert nonzero == want, s.name

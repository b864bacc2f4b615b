"""Row '10,000 distinct model names': the report caps groups at the top N by volume, the rest as 'other'."""

from __future__ import annotations

import json
from collections import Counter

from tests.reliability.conftest import run, write_rows

N_MODELS = 10_000


def _model(i: int) -> str:
    return (
        f"hot{i % 7}" if i % 2 == 0 else f"cold{i // 2:05d}"
    )  # 7 hot models carry half the traffic, 10,000 cold ones a row each


def test_ten_thousand_model_names_are_capped_to_the_top_groups(tmp_path):
    rows = 2 * N_MODELS
    src = write_rows(tmp_path / "a.jsonl", rows, model=_model)
    cfg = (
        tmp_path / "t.toml"
    )  # an SLO naming a cold model: its filter must select the same rows after the cap
    cfg.write_text(
        '[[slo]]\nname = "cold"\nmetric = "ttft_s"\nthreshold = 0.5\nobjective = 0.9\nfilter = "model = cold00009"\n'
    )
    res = run("report", src, "--out", tmp_path / "o", "--no-fail", "--config", cfg, "--max-groups", "10")
    assert res.exit_code == 0, res.stderr
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    groups = {
        g["group"]["model"]: g["count"] for g in rep["latency"] if g["metric"] == "ttft_s" and g["group"]
    }
    # independent count of the same rows
    counts = Counter(_model(i) for i in range(rows))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert len(counts) == N_MODELS + 7
    expected = dict(top) | {"cold00009": counts["cold00009"]}
    expected["other"] = rows - sum(expected.values())
    assert groups == expected
    assert any("--max-groups" in w and f"{N_MODELS + 7:,} distinct" in w for w in rep["warnings"])
    slo = {s["name"]: s for s in rep["slo"]}["cold"]
    ttft = [0.05 + (i % 97) / 100 for i in range(rows) if _model(i) == "cold00009"]
    assert slo["total"] == len(ttft) and slo["bad"] == sum(t > 0.5 for t in ttft)

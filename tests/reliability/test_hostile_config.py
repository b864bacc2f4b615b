"""Rows 'NaN / Inf / negatives / period 0', 'YAML alias bomb', 'OpenSLO misspelled keys / duplicate names',
'a filter with 4,000 and clauses', 'deeply nested / huge integers'."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from tests.reliability.conftest import run
from traceana.config import config_from_dict, load_config
from traceana.errors import ConfigError
from traceana.openslo import load_openslo

SLO = {"name": "ttft", "metric": "ttft_s", "threshold": 2.0, "objective": 0.99}


@pytest.mark.parametrize(
    "patch,key,allowed",
    [
        ({"threshold": float("nan")}, "slo[0].threshold", "finite"),
        ({"threshold": float("inf")}, "slo[0].threshold", "finite"),
        ({"threshold": -1.0}, "slo[0].threshold", "[0,"),
        ({"objective": float("nan")}, "slo[0].objective", "(0, 1)"),
        ({"period": "0s"}, "slo[0].period", "> 0"),
        ({"period": "0d"}, "slo[0].period", "> 0"),
    ],
)
def test_slo_numbers_out_of_range_are_refused_with_key_and_range(patch, key, allowed):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"slo": [{**SLO, **patch}]})
    assert f"key '{key}'" in str(e.value) and "Allowed" in str(e.value) and allowed in str(e.value)


@pytest.mark.parametrize(
    "doc,key",
    [
        ({"gpu_prices": {"H100": float("nan")}}, "gpu_prices.H100"),
        ({"gpu_prices": {"H100": -4.0}}, "gpu_prices.H100"),
        ({"gpu_prices": {"H100": float("inf")}}, "gpu_prices.H100"),
        ({"cost": {"target_utilization": float("nan")}}, "cost.target_utilization"),
        ({"cost": {"tokens": "weighted", "prompt_weight": float("inf")}}, "cost.prompt_weight"),
        (
            {"deployment": [{"instance": "a", "gpu_type": "H100", "gpu_count": 10**30}]},
            "deployment[0].gpu_count",
        ),
        (
            {"degradation": [{"name": "x", "quality": float("nan"), "latency_ms": 10}]},
            "degradation[0].quality",
        ),
    ],
)
def test_other_numbers_out_of_range_are_refused(doc, key):
    with pytest.raises(ConfigError, match=rf"key '{re.escape(key)}'.*Allowed"):
        config_from_dict(doc)


def test_period_zero_no_longer_turns_a_failing_slo_into_a_pass(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[[slo]]\nname = "a"\nobjective = 0.99\nperiod = "0s"\n')
    res = run("report", tmp_path / "x.parquet", "--out", tmp_path / "o", "--config", cfg)
    assert res.exit_code == 2 and "slo[0].period" in res.stderr and "Traceback" not in res.stderr


def _bomb(levels: int = 9) -> str:
    lines = [
        "apiVersion: openslo/v1",
        "kind: SLO",
        "metadata:",
        "  name: x",
        "  labels:",
        '    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"    {cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb())
    # 9 ** 9 strings once expanded: counted on the node graph, never built
    with pytest.raises(ConfigError, match=r"alias bomb") as e:
        load_openslo(p)
    assert "387,420,489" in str(e.value) or "nodes once aliases are expanded" in str(e.value)


def test_a_recursive_alias_is_refused(tmp_path):
    p = tmp_path / "rec.yaml"
    p.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: &m\n  name: x\n  labels: *m\n")
    with pytest.raises(ConfigError, match="recursive alias"):
        load_openslo(p)


OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  budgetingMethod: Occurrences
  {extra}indicator:
    metadata: {{name: ttft}}
    spec:
      thresholdMetric:
        metricSource: {{type: traceana, spec: {{metric: ttft_s}}}}
  objectives:
    - {{op: lte, value: 2.0, target: 0.99}}
"""


@pytest.mark.parametrize(
    "extra,key",
    [
        ("timeWindows: [{duration: 7d}]\n  ", "timeWindows"),
        ("objective: 0.9\n  ", "objective"),
        ("budgetMethod: Timeslices\n  ", "budgetMethod"),
    ],
)
def test_openslo_misspelled_keys_are_errors_naming_them(tmp_path, extra, key):
    p = tmp_path / "s.yaml"
    p.write_text(OPENSLO.format(name="a", extra=extra))
    with pytest.raises(ConfigError, match=rf"unknown key '{key}'"):
        load_openslo(p)


def test_openslo_duplicate_names_are_an_error(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(OPENSLO.format(name="a", extra="") + "---\n" + OPENSLO.format(name="a", extra=""))
    with pytest.raises(ConfigError, match="duplicate SLO name 'a'"):
        load_openslo(p)
    p.write_text(OPENSLO.format(name="a", extra="") + "---\n" + OPENSLO.format(name="b", extra=""))
    assert [s.name for s in load_openslo(p)] == ["a", "b"]


def test_a_filter_past_the_documented_limit_is_refused_and_one_within_is_exact():
    from traceana.filters import MAX_CLAUSES, parse_filter

    with pytest.raises(ConfigError, match=f"more than {MAX_CLAUSES} clauses"):
        parse_filter(
            " and ".join("ttft_s > 0" for _ in range(4000))
        )  # 56 kB: the clause limit, not the size limit
    with pytest.raises(ConfigError, match="characters refused"):
        parse_filter(" and ".join(f"ttft_s != {i}" for i in range(4000)))
    rng = np.random.default_rng(7)
    df = pl.DataFrame({"ttft_s": rng.integers(0, 400, 5000).astype(float)})
    f = parse_filter(" and ".join(f"ttft_s != {i}" for i in range(MAX_CLAUSES)))
    assert df.filter(f.expr()).height == int(
        (df["ttft_s"].to_numpy() >= MAX_CLAUSES).sum()
    )  # numpy reference


@pytest.mark.parametrize(
    "text,match",
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        (
            '[[slo]]\nname = "a"\nobjective = 0.9\nmetric = "ttft_s"\nthreshold = ' + "9" * 5000 + "\n",
            "number is too long",
        ),
        ("[gpu_prices]\nH100 = 1e999\n", "finite"),
    ],
)
def test_deep_nesting_and_huge_numbers_in_config_are_clear_errors(tmp_path, text, match):
    p = tmp_path / "t.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)
    res = run("cost", tmp_path / "none.parquet", "--config", p)
    assert res.exit_code == 2 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def test_deeply_nested_yaml_is_a_clear_error(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_openslo(p)

"""`traceana rules` on every SLO example in the repo: promtool check rules passes, the golden file holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.rules.conftest import run_promtool
from traceana.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests/data/sloth/golden-traceana-toml.yaml"
EXAMPLES = [
    ROOT / "sample_traces/traceana.toml",
    *sorted((ROOT / "tests/data/sloth").glob("openslo-*.yml")),
    ROOT / "tests/data/openslo/availability_ratio.yaml",
    ROOT / "tests/data/openslo/ttft_design.yaml",
]
#: examples traceana refuses, with the reason it must name
REFUSED = {"multi.yaml": "op 'lt' cannot be read from histogram buckets", "timeslices.yaml": "Timeslices"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("style", ["sloth", "pyrra"])
def test_promtool_checks_the_rules(example, style, tmp_path, promtool):
    out = tmp_path / "rules.yaml"
    res = CliRunner().invoke(main, ["rules", "--slo", str(example), "--style", style, "-o", str(out)])
    assert res.exit_code == 0, res.output
    check = run_promtool(promtool, "check", "rules", str(out))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_examples_that_cannot_be_rules_are_refused_clearly(name, tmp_path):
    res = CliRunner().invoke(
        main, ["rules", "--slo", str(ROOT / "tests/data/openslo" / name), "-o", str(tmp_path / "r.yaml")]
    )
    assert res.exit_code == 2 and REFUSED[name] in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r.yaml").exists()


def test_golden_rules_for_the_example_config(tmp_path):
    out = tmp_path / "rules.yaml"
    CliRunner().invoke(main, ["rules", "--slo", "sample_traces/traceana.toml", "-o", str(out)])
    assert out.read_text() == GOLDEN.read_text(), (
        "regenerate: traceana rules --slo sample_traces/traceana.toml -o " + str(GOLDEN)
    )


def test_layout_is_sloths():
    """Sloth's names: three groups per SLO, slo:sli_error:ratio_rate<w> for its windows, page and ticket alerts."""
    doc = yaml.safe_load(GOLDEN.read_text())
    names = [g["name"] for g in doc["groups"]]
    assert names[:3] == [
        "sloth-slo-sli-recordings-llm-ttft-2s",
        "sloth-slo-meta-recordings-llm-ttft-2s",
        "sloth-slo-alerts-llm-ttft-2s",
    ]
    rec = [r["record"] for r in doc["groups"][0]["rules"]]
    assert rec == [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")]
    meta = [r["record"] for r in doc["groups"][1]["rules"]]
    assert meta == [
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    ]
    page, ticket = doc["groups"][2]["rules"]
    assert page["labels"]["sloth_severity"] == "page" and ticket["labels"]["sloth_severity"] == "ticket"
    # factors 14.4/6 (page) and 3/1 (ticket) times the budget 1 - 0.99, as Sloth writes them
    assert "(14.4 * 0.01)" in page["expr"] and "(6 * 0.01)" in page["expr"]
    assert "(3 * 0.01)" in ticket["expr"] and "(1 * 0.01)" in ticket["expr"]
    assert 'vllm:time_to_first_token_seconds_bucket{le="2.0"}[5m]' in doc["groups"][0]["rules"][0]["expr"]


def test_openslo_prometheus_queries_pass_through_with_the_window():
    from traceana.rules import load_prom_slos

    s = load_prom_slos(ROOT / "tests/data/sloth/openslo-getting-started.yml")[0]
    assert s.objective == 0.999 and s.period_s == 30 * 86400 and s.service == "my-service"
    assert s.error_ratio("1h") == (
        '1 - (\n(sum(rate(http_request_duration_seconds_count{job="myservice",code!~"(5..|429)"}[1h])))\n'
        '/\n(sum(rate(http_request_duration_seconds_count{job="myservice"}[1h])))\n)'
    )


def test_openslo_v1_prometheus_bad_total_ranges_are_rewritten(tmp_path):
    from traceana.rules import load_prom_slos

    doc = tmp_path / "v1.yaml"
    doc.write_text("""apiVersion: openslo/v1
kind: SLO
metadata: {name: errors}
spec:
  service: api
  budgetingMethod: Occurrences
  timeWindow: [{duration: 7d, isRolling: true}]
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: prometheus, spec: {query: 'sum(rate(req_total{code=~"5.."}[5m]))'}}}
        total: {metricSource: {type: prometheus, spec: {query: 'sum(rate(req_total[5m]))'}}}
  objectives: [{target: 0.995}]
""")
    s = load_prom_slos(doc)[0]
    assert s.period_s == 7 * 86400 and s.objective == 0.995
    assert s.error_ratio("6h") == '(sum(rate(req_total{code=~"5.."}[6h])))\n/\n(sum(rate(req_total[6h])))'

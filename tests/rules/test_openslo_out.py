"""`traceana slo export --openslo`: OpenSLO v1 that traceana's own OpenSLO reader reads back to the same SLOs."""

from __future__ import annotations

from click.testing import CliRunner

from traceana.cli import main
from traceana.config import load_config
from traceana.openslo import load_openslo


def test_round_trip_of_the_example_config(tmp_path):
    out = tmp_path / "slo.yaml"
    r = CliRunner().invoke(
        main, ["slo", "export", "--openslo", "--slo", "sample_traces/traceana.toml", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    want = load_config("sample_traces/traceana.toml").slos
    got = load_openslo(out)

    def key(s):
        return (
            s.name,
            s.objective,
            s.metric,
            s.op,
            s.threshold,
            s.period_s,
            s.total_filter.text if s.total_filter else None,
            s.good_filter.text if s.good_filter else None,
        )

    assert [key(s) for s in got] == [key(s) for s in want]

"""``traceana compare``: did it get better or worse, and is the difference real?

    from traceana.compare import run_compare, write_compare
    cmp = run_compare(base_lf, cand_lf, by=["model"], rules=["p99(ttft) > +10%"])
    write_compare(cmp, "out/")                 # compare.html, compare.md, compare.json

Statistics in :mod:`traceana.compare.stats`, metric rows in :mod:`.core`, gate
rules in :mod:`.rules`, sweeps in :mod:`.sweep`, output in :mod:`.render` / :mod:`.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from traceana.compare.core import compare
from traceana.compare.write import write_compare

__all__ = ["compare", "run_compare", "run_sweep", "write_compare"]


def _stamp(out: dict, title: str | None) -> dict:
    from traceana._version import __version__

    out["title"] = title or "traceana compare"
    out["generated_at"] = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    out["traceana_version"] = __version__
    return out


def run_compare(
    base_lf: pl.LazyFrame,
    cand_lf: pl.LazyFrame,
    by: Sequence[str] = (),
    slos: Sequence = (),
    rules: Sequence[str] = (),
    labels: tuple[str, str] = ("base", "candidate"),
    title: str | None = None,
    config=None,
    **kw,
) -> dict:
    """:func:`compare` plus the gate: each rule's outcome, and ``verdict.exit_code`` 1 when one fires.

    Rules are parsed before any data is read, so a bad rule fails fast (ConfigError).
    With a ``config`` holding [gpu_prices] (and [[deployment]]s), a cost per 1M tokens row joins.
    """
    from traceana.compare import rules as rules_m
    from traceana.compare.cost import cost_row

    parsed = [rules_m.parse_rule(r) for r in rules]
    extra = (
        [r for r in [cost_row(base_lf, cand_lf, config, confidence=kw.get("confidence", 0.95))] if r]
        if config
        else []
    )
    out = compare(base_lf, cand_lf, by=by, slos=slos, labels=labels, extra_rows=extra, **kw)
    out["rules"] = rules_m.evaluate(parsed, out["metrics"])
    fired = [r["rule"] for r in out["rules"] if r["fired"]]
    out["verdict"] = {"fired": fired, "exit_code": 1 if fired else 0}
    out["sweep"] = None
    return _stamp(out, title)


def run_sweep(runs: Sequence[tuple[str, pl.LazyFrame]], title: str | None = None) -> dict:
    """The sweep document: no pairwise metrics, one point per run with the Pareto frontier."""
    from traceana.compare.core import SCHEMA_VERSION
    from traceana.compare.sweep import sweep

    out = {
        "schema_version": SCHEMA_VERSION,
        "base": None,
        "candidate": None,
        "by": [],
        "metrics": [],
        "rules": [],
        "summary": {},
        "series": {"ecdf": []},
        "warnings": [],
        "sweep": sweep(runs),
        "verdict": {"fired": [], "exit_code": 0},
    }
    return _stamp(out, title)

"""compare on two slices against report on one (issue 19): the ratio compare / report, in one process.

The trace is gen.py's (seeded) with 2 x ROWS requests; the two slices are its
first and second halves by arrival time (each ~ROWS requests). Timed, per
repetition, interleaved so both see the same machine noise:

    report:  build_report(base slice, config, SLOs) + write_report (HTML, Markdown, JSON)
    compare: run_compare(base slice, candidate slice, SLOs, by=model) + write_compare

The printed ratio is the median of the per-repetition ratios (target < 3).

Usage:
    python benchmarks/bench_compare.py --rows 1000000 --reps 3     # by hand: 1M-request slices
    python benchmarks/bench_compare.py --smoke                     # CI size: 20k-request slices, 1 rep
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def slices(data_dir: Path):
    import polars as pl

    from traceana.config import load_config
    from traceana.store import open_store

    lf = open_store(data_dir / "store", create=False).requests()
    mid = lf.select(pl.col("arrival_time").median()).collect().item()
    config = load_config(data_dir / "traceana.toml")
    return lf.filter(pl.col("arrival_time") < mid), lf.filter(pl.col("arrival_time") >= mid), config


def run_once(base, cand, config, out: Path) -> dict:
    from traceana.compare import run_compare, write_compare
    from traceana.report import build_report, write_report

    t0 = time.perf_counter()
    rep = build_report(base, None, config=config, by=["model"])
    write_report(rep, out / "report")
    t1 = time.perf_counter()
    cmp = run_compare(base, cand, by=["model"], slos=list(config.slos), rules=["p99(ttft) > +10%"])
    write_compare(cmp, out / "compare")
    t2 = time.perf_counter()
    return {
        "report_s": t1 - t0,
        "compare_s": t2 - t1,
        "ratio": (t2 - t1) / (t1 - t0),
        "rows_base": cmp["base"]["requests"],
        "rows_candidate": cmp["candidate"]["requests"],
        "metric_rows": len(cmp["metrics"]),
        "summary": cmp["summary"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="requests per slice")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="20k-request slices, one repetition")
    ap.add_argument(
        "--out", type=Path, default=None, help="data directory (default benchmarks/data/compare-n<2 x ROWS>)"
    )
    args = ap.parse_args(argv)
    rows, reps = (20_000, 1) if args.smoke else (args.rows, args.reps)
    import gen

    data = args.out or gen.DATA / f"compare-n{2 * rows}"
    if not (data / "meta.json").exists():
        gen.generate(2 * rows, seed=19, out=data, log=lambda _: None)
    base, cand, config = slices(data)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        for _ in range(reps):
            runs.append(run_once(base, cand, config, Path(tmp)))
    ratio = statistics.median(r["ratio"] for r in runs)
    print(json.dumps({"rows_per_slice": rows, "reps": reps, "runs": runs, "median_ratio": ratio}, indent=1))
    print(
        f"compare on two {runs[0]['rows_base']:,} / {runs[0]['rows_candidate']:,}-request slices: "
        f"{statistics.median(r['compare_s'] for r in runs):.2f} s; report on one: "
        f"{statistics.median(r['report_s'] for r in runs):.2f} s; ratio {ratio:.2f} (target < 3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

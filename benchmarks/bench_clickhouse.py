"""Benchmark of issue 21: the whole report through the chDB engine vs the embedded engine.

Three separate processes per repetition (wall time and peak RSS from /usr/bin/time,
as run.py measures): ``traceana report --store`` (embedded), the one-time load
``traceana export --store ... --clickhouse chdb:///DIR`` and ``traceana report
--engine chdb:///DIR``. Every run checks the two report.json agree number by
number (floats 1e-9 relative, the rest exact); exit 1 when they do not.

Usage:
    python benchmarks/bench_clickhouse.py --rows 1000000 [--reps 3]
    python benchmarks/bench_clickhouse.py --smoke        # 20k rows, 1 repetition: agreement only

Data as run.py (gen.py, under benchmarks/data/n<ROWS>/); the chDB directory goes
under benchmarks/data/n<ROWS>/chdb/ and is rebuilt on every run.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ensure_data, spawn, traceana_cmd  # noqa: E402


def mismatches(x, y, path: str = "") -> list[str]:
    """Differences of two report dicts: floats beyond 1e-9 relative, anything else not equal."""
    if isinstance(x, dict) and isinstance(y, dict):
        if set(x) != set(y):
            return [f"{path}: keys {sorted(set(x) ^ set(y))}"]
        return [m for k in x if k != "generated_at" for m in mismatches(x[k], y[k], f"{path}.{k}")]
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return [f"{path}: {len(x)} vs {len(y)} items"]
        return [
            m for i, (u, v) in enumerate(zip(x, y, strict=True)) for m in mismatches(u, v, f"{path}[{i}]")
        ]
    if isinstance(x, float) and isinstance(y, float):
        return [] if math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {x!r} vs {y!r}"]
    return [] if (x == y and type(x) is type(y)) else [f"{path}: {x!r} vs {y!r}"]


def run(rows: int, reps: int, log=print) -> dict:
    data = ensure_data(rows, 0)
    store, cfg = data / "store", data / "traceana.toml"
    chdir = data / "chdb"
    url = f"chdb://{chdir}?table=requests"
    exe = traceana_cmd()
    out: dict = {"rows": rows, "runs": []}
    for rep in range(reps):
        if chdir.exists():
            shutil.rmtree(chdir)
        r = {
            "embedded": spawn(
                [
                    *exe,
                    "report",
                    "--store",
                    str(store),
                    "--out",
                    str(data / "out_embedded"),
                    "--config",
                    str(cfg),
                    "--no-fail",
                ],
                data / "embedded.log",
            )
        }
        r["chdb_load"] = spawn(
            [*exe, "export", "--store", str(store), "--clickhouse", url], data / "load.log"
        )
        r["chdb_report"] = spawn(
            [
                *exe,
                "report",
                "--engine",
                url,
                "--out",
                str(data / "out_chdb"),
                "--config",
                str(cfg),
                "--no-fail",
            ],
            data / "chdb.log",
        )
        a = json.loads((data / "out_embedded" / "report.json").read_text(encoding="utf-8"))
        b = json.loads((data / "out_chdb" / "report.json").read_text(encoding="utf-8"))
        r["mismatches"] = mismatches(a, b)
        out["runs"].append(r)
        log(
            f"rep {rep + 1}: "
            + "  ".join(
                f"{k} {v['wall']:.1f} s / {v['rss_mb']:.0f} MiB" for k, v in r.items() if isinstance(v, dict)
            )
            + f"  mismatches {len(r['mismatches'])}"
        )
    for k in ("embedded", "chdb_load", "chdb_report"):
        out[k] = {
            "wall_median": statistics.median(r[k]["wall"] for r in out["runs"]),
            "rss_mb_median": statistics.median(r[k]["rss_mb"] for r in out["runs"]),
        }
    out["agree"] = all(not r["mismatches"] for r in out["runs"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=float, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="20k rows, 1 repetition: agreement only")
    a = ap.parse_args(argv)
    rows, reps = (20_000, 1) if a.smoke else (int(a.rows), a.reps)
    res = run(rows, reps)
    print(f"\n{rows:,} requests, medians of {reps}:")
    print("| engine | wall s | peak RSS MiB |\n|---|---|---|")
    for k in ("embedded", "chdb_load", "chdb_report"):
        print(f"| {k} | {res[k]['wall_median']:.1f} | {res[k]['rss_mb_median']:.0f} |")
    if not res["agree"]:
        print("report.json differs:", *res["runs"][0]["mismatches"][:20], sep="\n  ")
        return 1
    print("report.json agrees (floats 1e-9 relative, the rest exact)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

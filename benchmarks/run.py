"""Benchmarks of issue 5: traceana's core report vs a hand-written reference pass vs pandas, the whole
report, and ingest vs DuckDB. Every measurement is a separate process (peak RSS from /usr/bin/time, else wait4);
implementations are interleaved within each repetition so machine noise hits them alike, and the
ratios are medians of per-repetition ratios. Every run also checks that the numbers agree.

Usage:
    python benchmarks/run.py --rows 10000000            # the table of issue 5 (5 repetitions)
    python benchmarks/run.py --smoke                    # 200k rows, 1 repetition, agreement only
    python benchmarks/run.py --rows 100000000 --skip pandas,ingest --reps 1

Data are generated on first use under benchmarks/data/n<ROWS>/ (see gen.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import REL_TOL, compare  # noqa: E402

DATA = HERE / "data"
CORE = ("reference", "traceana", "pandas")
IN_MEMORY_MAX_ROWS = 20_000_000  # the reference and pandas load every row: not above this


def traceana_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "traceana"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "traceana.cli"]


def spawn(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` to completion; wall seconds and the command's own peak RSS (MiB).

    The peak comes from ``/usr/bin/time`` (a tiny process that forks and waits): Linux
    carries the forking process's RSS high-water mark into the child's, so a child
    forked from this (larger) Python process would report at least our own peak.
    """
    rss_file = log.with_suffix(".rss")
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if Path("/usr/bin/time").exists() else []
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*timer, *cmd], stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    kb = int(rss_file.read_text().split()[-1]) if timer else usage.ru_maxrss
    return {"wall": wall, "rss_mb": kb / 1024}


def ensure_data(rows: int, jsonl_rows: int) -> Path:
    out = DATA / f"n{rows}"
    meta = out / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text(encoding="utf-8"))
        if m.get("rows") == rows and m.get("jsonl_rows", 0) >= jsonl_rows:
            return out
    print(f"generating {rows:,} rows (JSON Lines: {jsonl_rows:,}) into {out}", flush=True)
    import gen

    return gen.generate(rows, jsonl=jsonl_rows, log=lambda s: print(s, flush=True))


def _leaves(x) -> int:
    if isinstance(x, dict):
        return sum(_leaves(v) for v in x.values())
    if isinstance(x, list):
        return sum(_leaves(v) for v in x)
    return 1


def run_core(
    data: Path, reps: int, impls: list[str], tmp: Path, runs: dict, checks: list, report: bool
) -> None:
    """Each repetition runs every implementation and then the whole report (if ``report``), rotating
    the order, so a ratio pairs runs from the same minutes of a shared machine."""
    names = impls + (["report"] if report else [])
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            if name == "report":
                run_report_once(data, rep, tmp, runs)
                continue
            out = tmp / f"core-{name}.json"
            m = spawn(
                [sys.executable, str(HERE / f"impl_{name}.py"), str(data), str(out)], tmp / f"core-{name}.log"
            )
            res = json.loads(out.read_text(encoding="utf-8"))
            m.update(seconds=res["seconds"], phases=res["phases"])
            runs.setdefault(f"core/{name}", []).append(m)
            if rep == 0:
                runs.setdefault("_results", {})[name] = res
            print(
                f"  rep {rep + 1} core {name:<9} {res['seconds']:7.2f} s  wall {m['wall']:7.2f} s  "
                f"rss {m['rss_mb']:8.0f} MiB",
                flush=True,
            )
    results = runs.pop("_results", {})
    if "reference" in results:
        for name in impls:
            if name != "reference":
                bad = compare(results["reference"], results[name], f"{name} vs reference: ")
                checks.append(
                    (f"core: {name} vs reference ({_leaves(results['reference']['result'])} numbers)", bad)
                )
    runs["_reference_result"] = results.get("reference")


def check_report(report_json: Path, reference: dict) -> list[str]:
    """The whole report's per-model latency rows against the reference pass."""
    rep = json.loads(report_json.read_text(encoding="utf-8"))
    bad = []
    seen = 0
    for row in rep.get("latency") or []:
        model = (row.get("group") or {}).get("model")
        key = f"{model}|{row.get('metric')}"
        exp = reference["result"]["latency"].get(key)
        if model is None or exp is None or set(row.get("group")) != {"model"}:
            continue
        seen += 1
        for k in ("count", "mean", "p50", "p90", "p95", "p99", "p99_9"):
            a, b = exp[k], row.get(k)
            if b is None or abs(a - b) > REL_TOL * max(abs(a), abs(b)):
                bad.append(f"report.json latency {key}.{k}: {b!r} != reference {a!r}")
    if seen != len(reference["result"]["latency"]):
        bad.append(
            f"report.json has {seen} per-model latency rows of ttft/tpot/e2e, reference {len(reference['result']['latency'])}"
        )
    return bad


def run_report_once(data: Path, rep: int, tmp: Path, runs: dict) -> None:
    """``traceana report`` of the store (HTML + Markdown + JSON); the first report.json is kept for the check."""
    out = tmp / "report"
    shutil.rmtree(out, ignore_errors=True)
    m = spawn(
        [
            *traceana_cmd(),
            "report",
            "--store",
            str(data / "store"),
            "--out",
            str(out),
            "--config",
            str(data / "traceana.toml"),
            "--no-fail",
        ],
        tmp / "report.log",
    )
    runs.setdefault("report/traceana", []).append(m)
    print(f"  rep {rep + 1} whole report     wall {m['wall']:7.2f} s  rss {m['rss_mb']:8.0f} MiB", flush=True)
    first = tmp / "report-first.json"
    if not first.exists():
        shutil.copyfile(out / "report.json", first)


def _ingest_check(store: Path, parquet: Path, rows: int) -> list[str]:
    """Row count and column sums of what traceana stored vs what DuckDB wrote."""
    import polars as pl

    sys.path.insert(0, str(HERE.parent))
    from traceana.store import open_store

    cols = ["e2e_latency_s", "ttft_s", "tpot_s", "prompt_tokens", "output_tokens"]
    agg = [
        pl.len().alias("rows"),
        pl.col("arrival_time").min().alias("first"),
        pl.col("arrival_time").max().alias("last"),
        pl.col("status").eq("ok").sum().alias("ok"),
    ] + [pl.col(c).sum() for c in cols]
    a = open_store(store, create=False).requests().select(agg).collect().row(0, named=True)
    b = pl.scan_parquet(parquet).select(agg).collect().row(0, named=True)
    bad = [] if a["rows"] == rows else [f"traceana stored {a['rows']} rows of {rows}"]
    for k in a:
        x, y = a[k], b[k]
        same = abs(x - y) <= REL_TOL * max(abs(x), abs(y)) if isinstance(x, float) else x == y
        if not same:
            bad.append(f"ingest {k}: traceana {x!r} != duckdb {y!r}")
    return bad


def run_ingest(data: Path, reps: int, tmp: Path, runs: dict, checks: list, rows: int) -> None:
    src = data / "requests.jsonl"
    size = src.stat().st_size
    runs["_jsonl"] = {"bytes": size, "rows": rows}
    for rep in range(reps):
        for name in ("duckdb", "traceana") if rep % 2 == 0 else ("traceana", "duckdb"):
            store, pq_out = tmp / "ingest-store", tmp / "ingest-duckdb.parquet"
            if name == "duckdb":
                pq_out.unlink(missing_ok=True)
                cmd = [sys.executable, str(HERE / "impl_duckdb_ingest.py"), str(src), str(pq_out)]
            else:
                shutil.rmtree(store, ignore_errors=True)
                cmd = [*traceana_cmd(), "ingest", str(src), "--store", str(store)]
            m = spawn(cmd, tmp / f"ingest-{name}.log")
            m["mb_per_s"] = size / 1e6 / m["wall"]
            runs.setdefault(f"ingest/{name}", []).append(m)
            print(
                f"  rep {rep + 1} ingest {name:<8}  wall {m['wall']:7.2f} s  {m['mb_per_s']:7.1f} MB/s  "
                f"rss {m['rss_mb']:8.0f} MiB",
                flush=True,
            )
        if rep == 0:
            checks.append(
                ("ingest: traceana store vs DuckDB Parquet (rows, sums)", _ingest_check(store, pq_out, rows))
            )
    shutil.rmtree(tmp / "ingest-store", ignore_errors=True)
    (tmp / "ingest-duckdb.parquet").unlink(missing_ok=True)


def _per_rep_ratio(runs: dict, num: str, den: str, key: str) -> float | None:
    a, b = runs.get(num), runs.get(den)
    if not a or not b:
        return None
    return statistics.median(x[key] / y[key] for x, y in zip(a, b, strict=False))


def summarize(runs: dict, rows: int, smoke: bool) -> dict:
    def med(name: str, key: str) -> float | None:
        return statistics.median(r[key] for r in runs[name]) if runs.get(name) else None

    ratios = {
        "core_vs_reference": _per_rep_ratio(runs, "core/traceana", "core/reference", "seconds"),
        "pandas_vs_core": _per_rep_ratio(runs, "core/pandas", "core/traceana", "seconds"),
        "report_vs_reference": _per_rep_ratio(runs, "report/traceana", "core/reference", "wall"),
        "ingest_throughput": _per_rep_ratio(runs, "ingest/duckdb", "ingest/traceana", "wall"),
    }
    rss = max((r["rss_mb"] for r in runs.get("core/traceana", [])), default=None)
    ratios["core_rss_gb"] = rss / 1024 if rss is not None else None
    lines = [
        f"## {rows:,} requests, {max((len(v) for k, v in runs.items() if not k.startswith('_')), default=0)} "
        f"repetition(s), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        + ("  (smoke: times are not meaningful)" if smoke else ""),
        "",
        "| run | median s (in process) | median wall s | min wall s | peak RSS MiB (max) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in (
        "core/reference",
        "core/traceana",
        "core/pandas",
        "report/traceana",
        "ingest/duckdb",
        "ingest/traceana",
    ):
        if not runs.get(name):
            continue
        sec = med(name, "seconds") if "seconds" in runs[name][0] else None
        extra = f" ({med(name, 'mb_per_s'):.0f} MB/s)" if "mb_per_s" in runs[name][0] else ""
        lines.append(
            f"| {name} | {'' if sec is None else f'{sec:.2f}'} | {med(name, 'wall'):.2f}{extra} | "
            f"{min(r['wall'] for r in runs[name]):.2f} | {max(r['rss_mb'] for r in runs[name]):,.0f} |"
        )
    lines += ["", "| ratio (median of per-repetition ratios) | measured | target |", "|---|---:|---:|"]
    labels = {
        "core_vs_reference": ("core report: traceana / reference", "<= 1.25"),
        "pandas_vs_core": ("core report: pandas / traceana (speed-up)", ">= 3"),
        "report_vs_reference": ("whole report incl. HTML (wall) / reference (wall)", "<= 2"),
        "ingest_throughput": ("ingest throughput: traceana / DuckDB read_ndjson->Parquet", ">= 0.75"),
        "core_rss_gb": ("core report peak RSS, GB", "<= 3.5 (10M)"),
    }
    for k, (label, target) in labels.items():
        if ratios.get(k) is not None:
            lines.append(f"| {label} | {ratios[k]:.2f} | {target} |")
    phases = {}
    for name in ("core/reference", "core/traceana", "core/pandas"):
        if runs.get(name):
            keys = runs[name][0]["phases"]
            phases[name] = {k: statistics.median(r["phases"][k] for r in runs[name]) for k in keys}
    if phases:
        lines += [
            "",
            "phases (median s): "
            + "; ".join(
                f"{n.split('/')[1]}: " + ", ".join(f"{k} {v:.2f}" for k, v in p.items())
                for n, p in phases.items()
            ),
        ]
    return {"ratios": ratios, "table": "\n".join(lines), "phases": phases}


def run_size(
    rows: int, reps: int, skip: set[str], jsonl_arg: int | None, smoke: bool
) -> tuple[dict, dict, bool]:
    """All selected benchmarks at one size: (summary, runs, failed)."""
    skip = set(skip)
    if rows > IN_MEMORY_MAX_ROWS and not smoke:
        dropped = sorted({"reference", "pandas"} - skip)
        if dropped:
            print(
                f"note: above {IN_MEMORY_MAX_ROWS:,} rows {' and '.join(dropped)} would not fit in memory: skipped"
            )
        skip |= {"reference", "pandas"}
    jsonl_rows = 0 if "ingest" in skip else (jsonl_arg or min(rows, 1_000_000))
    data = ensure_data(rows, jsonl_rows)
    have = json.loads((data / "meta.json").read_text(encoding="utf-8"))["jsonl_rows"]
    if "ingest" not in skip and have != jsonl_rows:
        print(f"note: the JSON Lines file holds {have:,} rows")
        jsonl_rows = have
    tmp = DATA / f"tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    runs: dict = {}
    checks: list[tuple[str, list[str]]] = []
    try:
        impls = [i for i in CORE if i not in skip]
        report = "report" not in skip
        if impls or report:
            what = ", ".join(
                impls + (["whole report: traceana report --store, HTML + Markdown + JSON"] if report else [])
            )
            print(f"core report and whole report ({what}) x {reps}", flush=True)
            run_core(data, reps, impls, tmp, runs, checks, report)
        reference = runs.pop("_reference_result", None)
        if report and reference is not None:
            checks.append(
                (
                    "whole report: report.json per-model latency vs reference",
                    check_report(tmp / "report-first.json", reference),
                )
            )
        if "ingest" not in skip:
            print(f"ingest of {jsonl_rows:,} JSON Lines rows x {reps}", flush=True)
            run_ingest(data, reps, tmp, runs, checks, jsonl_rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    jsonl = runs.pop("_jsonl", None)
    summary = summarize(runs, rows, smoke)
    print()
    print(summary["table"])
    if jsonl:
        print(
            f"\ningest input: {jsonl['rows']:,} rows of canonical JSON Lines, {jsonl['bytes'] / 1e6:,.0f} MB"
        )
    print("\nagreement:")
    failed = False
    for label, bad in checks:
        print(f"  {'OK  ' if not bad else 'FAIL'} {label}")
        for b in bad[:10]:
            print(f"       {b}")
        failed |= bool(bad)
    if not checks:
        print("  (nothing to compare: the reference did not run)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = DATA / f"results-n{rows}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "reps": reps,
                "runs": runs,
                "ratios": summary["ratios"],
                "checks": {k: v for k, v in checks},
                "jsonl": jsonl,
                "table": summary["table"],
            },
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    print(f"\nresults: {out}\n")
    return summary, runs, failed


def scaling_table(results: list[tuple[int, dict]]) -> str:
    """Time and peak RSS per size, one line per size (medians over repetitions)."""

    def cell(runs: dict, name: str, key: str, fmt: str) -> str:
        vals = [r[key] for r in runs.get(name, [])]
        return format(statistics.median(vals), fmt) if vals else "-"

    lines = [
        "| rows | core traceana s | core reference s | whole report wall s | core traceana peak RSS MiB "
        "| whole report peak RSS MiB | report s per 1M rows |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows, runs in results:
        per_m = cell(runs, "report/traceana", "wall", ".6f")
        per_m = f"{float(per_m) / (rows / 1e6):.2f}" if per_m != "-" else "-"
        lines.append(
            f"| {rows:,} | {cell(runs, 'core/traceana', 'seconds', '.2f')} | "
            f"{cell(runs, 'core/reference', 'seconds', '.2f')} | {cell(runs, 'report/traceana', 'wall', '.2f')} | "
            f"{cell(runs, 'core/traceana', 'rss_mb', ',.0f')} | {cell(runs, 'report/traceana', 'rss_mb', ',.0f')} | "
            f"{per_m} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rows",
        default=None,
        help="requests in the trace, or a comma list of sizes for the scaling table (default 10M; smoke 200k)",
    )
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5; smoke 1)")
    ap.add_argument(
        "--jsonl-rows", type=int, default=None, help="rows of the ingest JSON Lines (default min(rows, 1M))"
    )
    ap.add_argument("--skip", default="", help="comma list of: pandas, reference, traceana, report, ingest")
    ap.add_argument("--smoke", action="store_true", help="small, one repetition: check agreement, not time")
    args = ap.parse_args(argv)
    sizes = (
        [int(float(x)) for x in args.rows.split(",")]
        if args.rows
        else [200_000 if args.smoke else 10_000_000]
    )
    reps = args.reps or (1 if args.smoke else 5)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    results, failed = [], False
    for rows in sizes:
        _, runs, bad = run_size(rows, reps, skip, args.jsonl_rows, args.smoke)
        results.append((rows, runs))
        failed |= bad
    if len(sizes) > 1:
        print("scaling (medians):\n" + scaling_table(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""By hand: other ways to ingest the benchmark's JSON Lines, each beside DuckDB's raw read_ndjson -> Parquet.

The experiment behind "What is left" in benchmarks/README.md: how close to
DuckDB other designs of the ingest get, and what each gives up.

- ``committed``: ``traceana ingest`` as it is (batches of 512k rows);
- ``no-scan``: the same, with the worker pass replaced by a stub (no sha256
  identity, no newline count, no 'true'/'false' check: the newline count is
  taken on trust);
- ``whole-file``: the same, with the file read as one batch (how it was
  before batches, for memory);
- ``sql-filter``: the rules as a DuckDB projection inside DuckDB's own
  Parquet write (no quarantine, no hash, no line numbers, no duplicates: a
  filter, not an ingest with full validation).

Every run is its own process; variants are interleaved with DuckDB in each
repetition and the ratio is the median of per-repetition ratios.

Usage: python benchmarks/ingest_designs.py [--rows 10000000] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VARIANTS = ("committed", "no-scan", "whole-file", "sql-filter")


def _no_scan(src: Path, out: Path, rows: int) -> None:
    from traceana.ingest import pipeline
    from traceana.ingest.adapters import _duckjson
    from traceana.ingest.reader import FileScan

    def stub(path, digest=True, lines=True):
        st = path.stat()
        return FileScan(
            identity=f"stub-{st.st_size}-{st.st_mtime_ns}",
            size=st.st_size,
            newlines=rows,
            ends_with_newline=True,
            bool_literal=False,
        )

    pipeline.scan_file = stub
    _duckjson.scan_file = stub
    from traceana.ingest import ingest_paths
    from traceana.store import open_store

    summary = ingest_paths(open_store(out), [src])
    assert summary.stored == rows, summary.to_dict()


def _whole_file(src: Path, out: Path, rows: int) -> None:
    from traceana.ingest import ingest_paths
    from traceana.ingest.adapters import _duckjson
    from traceana.store import open_store

    _duckjson.BATCH_ROWS = max(rows, 1)
    summary = ingest_paths(open_store(out), [src])
    assert summary.stored == rows, summary.to_dict()


def _sql_filter(src: Path, out: Path) -> None:
    import duckdb
    from impl_duckdb_ingest import COLUMNS

    from traceana.ingest.validate import DURATIONS, MAX_DURATION_S, TOKENS, TOLERANCE_S
    from traceana.schema import STATUSES

    columns = {**COLUMNS, "arrival_time": "VARCHAR", **dict.fromkeys(TOKENS, "DOUBLE")}
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z"
    ok = [f"regexp_full_match(arrival_time, '{iso}')", "request_id IS NOT NULL AND trim(request_id) <> ''"]
    ok += [f"({d} IS NULL OR ({d} >= 0 AND {d} <= {MAX_DURATION_S}))" for d in DURATIONS]
    ok += [f"({t} IS NULL OR ({t} >= 0 AND {t} = floor({t}) AND {t} < 9e18))" for t in TOKENS]
    ok += [
        "(cached_prompt_tokens IS NULL OR prompt_tokens IS NULL OR cached_prompt_tokens <= prompt_tokens)",
        f"(ttft_s IS NULL OR e2e_latency_s IS NULL OR ttft_s <= e2e_latency_s + {TOLERANCE_S})",
        f"(queue_time_s + prefill_time_s IS NULL OR ttft_s IS NULL OR queue_time_s + prefill_time_s <= ttft_s + {TOLERANCE_S})",
        "(status IS NULL OR status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + "))",
    ]
    project = ", ".join(
        f"CAST({k} AS BIGINT) AS {k}"
        if k in TOKENS
        else "CAST(arrival_time AS TIMESTAMPTZ) AS arrival_time"
        if k == "arrival_time"
        else k
        for k in columns
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = con.read_json(str(src), format="newline_delimited", columns=columns)
    rel.filter(" AND ".join(ok)).project(project).write_parquet(str(out), compression="zstd")


def child(variant: str, src: Path, out: Path, rows: int) -> None:
    if variant == "no-scan":
        _no_scan(src, out, rows)
    elif variant == "whole-file":
        _whole_file(src, out, rows)
    elif variant == "sql-filter":
        _sql_filter(src, out)
    else:
        raise SystemExit(f"unknown variant {variant}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rows", type=int, default=10_000_000, help="benchmark data set (benchmarks/data/n<ROWS>)"
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", nargs=4, metavar=("VARIANT", "IN", "OUT", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        variant, src, out, rows = args.child
        child(variant, Path(src), Path(out), int(rows))
        return
    data = HERE / "data" / f"n{args.rows}"
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    from run import spawn, traceana_cmd

    src = data / "requests.jsonl"
    if not meta.get("jsonl_rows") or not src.exists():
        raise SystemExit(f"no JSON Lines under {data}: run benchmarks/run.py --rows {args.rows} first")
    walls: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="traceana-designs-") as tmp:
        tmp = Path(tmp)
        for rep in range(args.reps):
            for variant in ("duckdb", *VARIANTS):
                out = tmp / f"out-{variant}"
                if variant == "duckdb":
                    cmd = [sys.executable, str(HERE / "impl_duckdb_ingest.py"), str(src), str(out)]
                elif variant == "committed":
                    cmd = [*traceana_cmd(), "ingest", str(src), "--store", str(out)]
                else:
                    cmd = [
                        sys.executable,
                        __file__,
                        "--child",
                        variant,
                        str(src),
                        str(out),
                        str(meta["jsonl_rows"]),
                    ]
                m = spawn(cmd, tmp / f"{variant}.log")
                walls.setdefault(variant, []).append(m["wall"])
                walls.setdefault(f"{variant}/rss", []).append(m["rss_mb"])
                print(
                    f"  rep {rep + 1} {variant:<11} wall {m['wall']:6.2f} s  peak RSS {m['rss_mb']:7.0f} MiB",
                    flush=True,
                )
                if out.is_dir():
                    shutil.rmtree(out)
                else:
                    out.unlink(missing_ok=True)
    print(
        f"\n{meta['jsonl_rows']:,} rows, {src.stat().st_size / 1e6:,.0f} MB, {args.reps} repetitions, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    print("| design | median wall s | peak RSS MiB | DuckDB / design (median of per-rep ratios) |")
    print("|---|---:|---:|---:|")
    for variant in ("duckdb", *VARIANTS):
        ratio = statistics.median(d / v for d, v in zip(walls["duckdb"], walls[variant], strict=True))
        print(
            f"| {variant} | {statistics.median(walls[variant]):.2f} | {max(walls[variant + '/rss']):,.0f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()

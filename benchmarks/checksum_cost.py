"""Cost of the store's part checksums (issue 17): report time with verification vs without, same store.

Usage: python benchmarks/checksum_cost.py --rows 1000000 [--reps 3]   (--rows 20000 --reps 1 is the CI smoke size)

Every read verifies the size and xxh3-64 of the parts it opens (once per part per
command). "Without" patches that check out; both runs are the whole
``traceana report`` (every section, HTML, Markdown, JSON) in this process, in
alternating order, and the medians are compared. The hash of every part alone
(``Store.verify``) is timed too: it bounds the cost from above.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _report(data: Path, out: Path) -> float:
    from click.testing import CliRunner

    from traceana.cli import main

    t0 = time.perf_counter()
    res = CliRunner().invoke(
        main,
        [
            "report",
            "--store",
            str(data / "store"),
            "--out",
            str(out),
            "--config",
            str(data / "traceana.toml"),
            "--no-fail",
        ],
    )
    dt = time.perf_counter() - t0
    if res.exit_code != 0:
        raise SystemExit(f"report failed: {res.output}{res.stderr}")
    return dt


def measure(rows: int, reps: int, work: Path) -> dict:
    from gen import generate

    from traceana.store import Store, open_store

    data = generate(rows, seed=17, out=work / "data", log=lambda _: None)
    real = Store._verify_part
    _report(data, work / "warm")  # first run builds the Vega bundle cache and warms the page cache
    with_v, without_v = [], []
    for i in range(reps * 2):
        verify = i % 2 == 0
        Store._verify_part = real if verify else (lambda self, rel, expected, force=False: True)
        try:
            (with_v if verify else without_v).append(_report(data, work / f"out{i}"))
        finally:
            Store._verify_part = real
    st = open_store(data / "store", create=False)
    t0 = time.perf_counter()
    v = st.verify()
    hash_s = time.perf_counter() - t0
    size = sum((data / "store" / p).stat().st_size for t in st.manifest()["parts"].values() for p in t)
    med_with, med_without = statistics.median(with_v), statistics.median(without_v)
    return {
        "rows": rows,
        "parts": v["verified"],
        "store_bytes": size,
        "reps": reps,
        "report_s_with_verify": round(med_with, 3),
        "report_s_without_verify": round(med_without, 3),
        "ratio": round(med_with / med_without, 4),
        "verify_all_parts_s": round(hash_s, 4),
        "verify_share_of_report": round(hash_s / med_without, 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="traceana-bench-") as tmp:
        print(json.dumps(measure(args.rows, args.reps, Path(tmp)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

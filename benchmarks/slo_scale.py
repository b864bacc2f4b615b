"""Peak RSS and wall time of `traceana report` against the number of SLOs (issue 17).

Generates a traceana.toml of N SLOs (metric, threshold, op and filter varied) and runs
`traceana report` on sample_traces/requests.parquet in a child process, reading the
child's peak RSS from its own resource.getrusage(RUSAGE_SELF).

    PYTHONPATH=. python benchmarks/slo_scale.py            # smoke: 10 SLOs
    PYTHONPATH=. python benchmarks/slo_scale.py 10 100 1000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_traces" / "requests.parquet"
METRICS = ("ttft_s", "tpot_s", "e2e_latency_s", None)
FILTERS = (None, "output_tokens > 1", "prompt_tokens > 100")


def slo_config(n: int) -> str:
    """A traceana.toml with ``n`` SLOs that differ in metric, threshold, op and filter."""
    out = []
    for i in range(n):
        metric = METRICS[i % len(METRICS)]
        lines = ["[[slo]]", f'name = "slo-{i:04d}"', f"objective = {0.9 + (i % 9) * 0.01:.2f}"]
        if metric is not None:
            lines += [f'metric = "{metric}"', f"threshold = {0.05 + (i % 37) * 0.05:.2f}"]
            lines.append(f'op = "{("lte", "lt")[i % 2]}"')
        flt = FILTERS[(i // len(METRICS)) % len(FILTERS)]
        if flt is not None:
            lines.append(f'filter = "{flt}"')
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def run(n: int, data: Path = DATA) -> dict:
    """One `traceana report` with ``n`` SLOs in a fresh interpreter: peak RSS (MB), seconds, report.json size."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "traceana.toml"
        cfg.write_text(slo_config(n))
        out = Path(tmp) / "out"
        code = (
            "import resource, sys\n"
            "from traceana.cli import main\n"
            "try:\n"
            "    main(sys.argv[1:])\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        argv = [
            sys.executable,
            "-c",
            code,
            "report",
            str(data),
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--no-fail",
        ]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        p = subprocess.run(argv, capture_output=True, text=True, env=env)
        secs = time.perf_counter() - t0
        if p.returncode != 0 or not (out / "report.json").exists():
            raise SystemExit(p.stderr[-2000:])
        rss_kb = int(
            p.stdout.strip().splitlines()[-1]
        )  # the child's own peak (RUSAGE_CHILDREN is a running max)
        size = (out / "report.json").stat().st_size
    return {
        "slos": n,
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "seconds": round(secs, 2),
        "report_json_kb": size // 1024,
    }


def main(argv: list[str]) -> None:
    for n in [int(a) for a in argv] or [10]:
        print(json.dumps(run(n)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

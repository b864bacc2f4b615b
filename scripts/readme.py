"""Regenerate the generated sections of README.md (schema table, CLI reference) from the code.

python scripts/readme.py          # rewrite README.md in place
python scripts/readme.py --check  # exit 1 if README.md is stale (a test runs this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def schema_table() -> str:
    from traceana import schema

    lines = []
    for table in ("requests", "engine_samples", "engine_histograms"):
        lines += [
            f"**{table}**",
            "",
            "| field | type | unit | checklist | description |",
            "|---|---|---|---|---|",
        ]
        for f in schema.fields(table):
            lines.append(f"| `{f.name}` | {f.type} | {f.unit or '-'} | {f.checklist} | {f.description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def cli_reference() -> str:
    from traceana.cli import main

    runner = CliRunner()
    out = [
        "```",
        runner.invoke(main, ["--help"], prog_name="traceana", terminal_width=100).output.rstrip(),
        "```",
        "",
    ]
    for name in sorted(main.commands):
        text = runner.invoke(main, [name, "--help"], prog_name="traceana", terminal_width=100).output.rstrip()
        out += [f"#### `traceana {name}`", "", "```", text, "```", ""]
    return "\n".join(out)


SECTIONS = {"schema": schema_table, "cli": cli_reference}


def render(text: str) -> str:
    for name, fn in SECTIONS.items():
        pat = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"README.md lacks the <!-- {name}:start --> / <!-- {name}:end --> markers")
        text = pat.sub(lambda m, fn=fn: m.group(1) + fn() + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    new = render(current)
    if "--check" in argv:
        if new != current:
            print("README.md is stale: run `python scripts/readme.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

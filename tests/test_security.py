"""Security: no user text formatted into SQL; hostile config files give one line; input limits have flags."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import traceana
from traceana.cli import main

PKG = Path(traceana.__file__).resolve().parent
SQL_METHODS = {"execute", "executemany", "sql", "query", "read_sql", "from_query"}


def _is_built_text(node: ast.AST) -> bool:
    """An f-string, a concatenation / %-format, or a .format() call: text assembled at run time."""
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def sql_built_from_text(source: str, filename: str = "<src>") -> list[str]:
    """Calls like ``con.execute(f"... {x}")``: the first argument (or ``query=``) is assembled text."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name not in SQL_METHODS:
            continue
        args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in ("query", "sql")]
        if any(_is_built_text(a) for a in args):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)[:120]}")
    return found


def test_the_sql_check_can_fail():
    bad = 'con.execute(f"select * from t where m = \'{m}\'")\ncon.sql("select " + col)\ncon.query("x {}".format(y))\n'
    good = 'con.execute("select * from t where m = ?", [m])\npl.col("x").sql\n'
    assert len(sql_built_from_text(bad)) == 3
    assert sql_built_from_text(good) == []


def _clickhouse_sql_lines(source: str) -> set[int]:
    """Lines of the ClickHouse engine's SQL builders: functions named *_ch / _ch_* and the engines package.

    ClickHouse SQL is assembled from checked identifiers and {pN:Type} placeholders (every value
    travels as a query parameter); tests/engines/test_clickhouse.py::test_no_value_reaches_clickhouse_as_sql_text
    runs them with hostile values and checks no value appears in any SQL text sent.
    """
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and (node.name.endswith("_ch") or node.name.startswith("_ch_")):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def test_no_user_text_formatted_into_sql():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = sql_built_from_text(text, str(path.relative_to(PKG.parent)))
        if path.parent.name == "engines":
            continue  # checked by value at run time (see _clickhouse_sql_lines)
        ch_lines = _clickhouse_sql_lines(text)
        offenders += [f for f in found if int(f.split(":")[1]) not in ch_lines]
    assert offenders == [], (
        "SQL built from text (use DuckDB parameters or polars expressions):\n" + "\n".join(offenders)
    )


def test_sql_quote_in_model_name_is_data_not_sql(tmp_path):
    """A model name full of SQL stays a value through the store's DuckDB views."""
    evil = "x'); DROP VIEW requests; --"
    src = tmp_path / "a.jsonl"
    src.write_text(
        json.dumps({"request_id": "r1", "arrival_time": "2025-03-01T12:00:00Z", "model": evil}) + "\n"
    )
    res = CliRunner().invoke(main, ["ingest", str(src), "--store", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    con = traceana.open_store(tmp_path / "st").duckdb()
    assert con.execute("select model from requests where model = ?", [evil]).fetchall() == [(evil,)]
    assert con.execute("select count(*) from requests").fetchone()[0] == 1


# ------------------------------------------------------------------------- hostile config files
CONFIGS = {
    "unknown_key": (b'bogus = 1\n[[slo]]\nname = "x"\nobjective = 0.99\n', "unknown key 'bogus'"),
    "wrong_type": (b'[[slo]]\nname = "x"\nobjective = "high"\n', "expected a number"),
    "nested_unknown_key": (b'[cost]\ntokens = "output"\ncolour = "red"\n', "colour"),
    "bad_toml": (b"[[slo]\n", "not valid TOML"),
    "missing": (None, "file not found"),
    "invalid_utf8": (b"\xff\xfe[x]\n", "UTF-8"),
    "directory": ("dir", "directory"),
}
_CONFIG_BUGS: dict[str, str] = {}  # config cases with a known bug (strict xfail); fixed ones are removed


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfgstore")
    src = d / "a.jsonl"
    src.write_text(
        json.dumps(
            {"request_id": "r1", "arrival_time": "2025-03-01T12:00:00Z", "ttft_s": 0.1, "e2e_latency_s": 1.0}
        )
        + "\n"
    )
    res = CliRunner().invoke(main, ["ingest", str(src), "--store", str(d / "st")])
    assert res.exit_code == 0
    return d / "st"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=_CONFIG_BUGS[n]))
        if n in _CONFIG_BUGS
        else n
        for n in CONFIGS
    ],
)
def test_hostile_config_one_line_exit_2(name, tmp_path, small_store):
    if "report" not in main.commands:
        pytest.skip("the report command is not registered")
    content, fragment = CONFIGS[name]
    cfg = tmp_path / "traceana.toml"
    if content == "dir":
        cfg.mkdir()
    elif content is not None:
        cfg.write_bytes(content)
    res = CliRunner().invoke(
        main, ["report", "--store", str(small_store), "--config", str(cfg), "--out", str(tmp_path / "out")]
    )
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2
    assert res.stderr.startswith("traceana: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert fragment in res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------- input limits
def test_limit_flags_exist():
    res = CliRunner().invoke(main, ["ingest", "--help"])
    for flag in ("--max-decompressed-bytes", "--max-line-bytes", "--max-json-depth"):
        assert flag in res.output


def test_json_depth_limit_can_be_raised(tmp_path):
    deep = "[" * 100 + "]" * 100
    src = tmp_path / "d.jsonl"
    src.write_text(
        json.dumps({"request_id": "ok", "arrival_time": "2025-03-01T12:00:00Z"})
        + "\n"
        + f'{{"request_id": "deep", "arrival_time": "2025-03-01T12:00:00Z", "model": {deep}}}\n'
    )
    out = {}
    for depth in ("64", "200"):
        res = CliRunner().invoke(
            main,
            [
                "ingest",
                str(src),
                "--store",
                str(tmp_path / f"st{depth}"),
                "--json",
                "--max-json-depth",
                depth,
            ],
        )
        out[depth] = json.loads(res.output)
    assert (out["64"]["stored"], out["64"]["quarantined"]) == (1, 1)
    assert (out["200"]["stored"], out["200"]["quarantined"]) == (2, 0)


# ------------------------------------------------------------------------- escaping in reports
def test_hostile_model_names_are_escaped_in_html_and_markdown(tmp_path):
    import re
    import sys

    if "report" not in main.commands:
        pytest.skip("the report command is not registered")
    sys.path.insert(0, str(Path(__file__).parent))
    from hostile.cases import HOSTILE_MODELS, jsonl, row

    models = [m for m in HOSTILE_MODELS if m and len(m) < 1000]
    rows = [
        row(f"h{i}-{j}", model=m, arrival_time=f"2025-03-01T12:00:{j:02d}Z")
        for i, m in enumerate(models)
        for j in range(3)
    ]
    src = tmp_path / "h.jsonl"
    src.write_bytes(jsonl(*rows))
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(src), "--store", str(tmp_path / "st")]).exit_code == 0
    res = runner.invoke(
        main, ["report", "--store", str(tmp_path / "st"), "--out", str(tmp_path / "out"), "--no-fail"]
    )
    assert res.exit_code == 0, res.output + res.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(" not in html and "<b>&amp;" not in html
    assert "&lt;script&gt;alert(" in html  # shown, escaped
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if (
            line.startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1])
        ):
            width = len(re.findall(r"(?<!\\)\|", line))
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert len(re.findall(r"(?<!\\)\|", lines[j])) == width, (
                    f"table row broken by a model name: {lines[j][:120]!r}"
                )
                j += 1
            assert (
                j >= len(lines)
                or not lines[j].strip()
                or not lines[j].startswith(("break", "and\ttab", " pipe"))
            ), lines[j]
    assert "m'; DROP TABLE requests; --" in md

"""Filters in SLOs and configs: parsed into a small AST, evaluated as polars expressions.

Never pasted into SQL. Grammar::

    filter  := clause ("and" clause)*
    clause  := column op value | column ("in" | "not in") "(" value ("," value)* ")"
    op      := = | != | < | <= | > | >=
    value   := bare word [A-Za-z0-9_.:/+-]+ or a '...' / "..." string without quotes inside

Columns are the canonical ``requests`` columns; anything else is a ConfigError
naming the key and the allowed columns. A filter holds at most
:data:`MAX_CLAUSES` clauses and :data:`MAX_FILTER_CHARS` characters (a longer
one is refused); numbers must be finite.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from traceana.errors import ConfigError
from traceana.errors import did_you_mean as _did_you_mean
from traceana.schema import fields as schema_fields

_NUMERIC = {
    f.name for f in schema_fields("requests") if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)
}
_STRING = {f.name for f in schema_fields("requests") if pa.types.is_string(f.type)}
#: columns a filter or an SLO metric may name
FILTER_COLUMNS = tuple(sorted(_NUMERIC | _STRING))
METRIC_COLUMNS = tuple(sorted(_NUMERIC))
#: the documented limits of one filter: real ones have a handful of clauses (use ``in (...)`` for many values)
MAX_CLAUSES = 256
MAX_FILTER_CHARS = 64 * 1024


_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z0-9_.:/+\-]+))"""
)
_BLANK = re.compile(r"\s*\Z")
_CMP = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@dataclass(frozen=True)
class Condition:
    """One parsed clause: ``column op values`` (op: eq ne lt le gt ge in not_in)."""

    column: str
    op: str
    values: tuple

    def expr(self) -> pl.Expr:
        col = pl.col(self.column)
        if self.op == "in":
            return col.is_in(list(self.values))
        if self.op == "not_in":
            return ~col.is_in(list(self.values))
        v = self.values[0]
        return {"eq": col == v, "ne": col != v, "lt": col < v, "le": col <= v, "gt": col > v, "ge": col >= v}[
            self.op
        ]


@dataclass(frozen=True)
class Filter:
    """A conjunction of conditions; ``text`` keeps the source for display."""

    conditions: tuple[Condition, ...]
    text: str = ""

    def expr(self) -> pl.Expr:
        """The polars expression; a null comparison counts as not matching."""
        # one flat n-ary AND: a chain of 4,000 binary '&' made polars' optimizer superlinear (154 s)
        if not self.conditions:
            return pl.lit(True)
        return pl.all_horizontal([c.expr() for c in self.conditions]).fill_null(False)


def _tokens(text: str, key: str, path: str | None) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if _BLANK.match(text, pos):  # not text[pos:].strip(): that copies the rest once per token (quadratic)
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].strip()[:20]
            raise ConfigError(
                f"cannot parse filter {text!r} at {bad!r}. Allowed: column op value clauses joined by 'and' "
                "(ops: = != < <= > >= in, not in)",
                key,
                path,
            )
        kind = m.lastgroup
        val = m.group(kind)
        out.append((kind, val[1:-1] if kind == "str" else val))
        pos = m.end()
    return out


def _value(kind: str, raw: str, column: str, text: str, key: str, path: str | None):
    if kind not in ("word", "str"):
        raise ConfigError(f"filter {text!r}: expected a value after '{column}', got {raw!r}", key, path)
    if column in _NUMERIC:
        try:
            v = float(raw)
        except ValueError:
            raise ConfigError(
                f"filter {text!r}: column '{column}' is numeric, {raw!r} is not a number", key, path
            ) from None
        if not math.isfinite(v):
            raise ConfigError(
                f"filter {_short(text)!r}: {raw[:40]!r} is not allowed. Allowed: a finite number", key, path
            )
        return v
    return raw


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def parse_filter(text: str, key: str = "filter", path: str | None = None) -> Filter:
    """Parse a filter expression (see the module docstring) into a :class:`Filter`."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError('a filter must be a non-empty string like "status = ok"', key, path)
    if len(text) > MAX_FILTER_CHARS:
        raise ConfigError(
            f"filter of {len(text):,} characters refused. Allowed: at most {MAX_FILTER_CHARS:,}", key, path
        )
    toks = _tokens(text, key, path)
    conds, i = [], 0
    while True:
        if len(conds) >= MAX_CLAUSES:
            raise ConfigError(
                f"filter {_short(text)!r} has more than {MAX_CLAUSES} clauses. Allowed: at most {MAX_CLAUSES} "
                "(use 'column in (a, b, ...)' for many values)",
                key,
                path,
            )
        if i >= len(toks) or toks[i][0] != "word":
            raise ConfigError(
                f"filter {text!r}: expected a column name. Allowed: {', '.join(FILTER_COLUMNS)}", key, path
            )
        column = toks[i][1]
        if column not in FILTER_COLUMNS:
            raise ConfigError(
                f"filter {text!r}: unknown column '{column}'.{_did_you_mean(column, FILTER_COLUMNS)}",
                key,
                path,
            )
        i += 1
        negate = i + 1 < len(toks) and toks[i] == ("word", "not") and toks[i + 1][1].lower() == "in"
        if negate:
            i += 1
        if i < len(toks) and toks[i][0] == "word" and toks[i][1].lower() == "in":
            i += 1
            if i >= len(toks) or toks[i] != ("punct", "("):
                raise ConfigError(f"filter {text!r}: 'in' needs a list like (ok, cancelled)", key, path)
            i += 1
            values = []
            while True:
                if i >= len(toks):
                    raise ConfigError(f"filter {text!r}: unclosed '('", key, path)
                values.append(_value(*toks[i], column, text, key, path))
                i += 1
                if i < len(toks) and toks[i] == ("punct", ","):
                    i += 1
                    continue
                if i < len(toks) and toks[i] == ("punct", ")"):
                    i += 1
                    break
                raise ConfigError(f"filter {text!r}: expected ',' or ')' in the list", key, path)
            conds.append(Condition(column, "not_in" if negate else "in", tuple(values)))
        elif i < len(toks) and toks[i][0] == "op":
            op = _CMP[toks[i][1]]
            if column in _STRING and op not in ("eq", "ne"):
                raise ConfigError(
                    f"filter {text!r}: '{column}' is text; only = != in are allowed on it", key, path
                )
            if i + 1 >= len(toks):
                raise ConfigError(f"filter {text!r}: missing value after '{toks[i][1]}'", key, path)
            conds.append(Condition(column, op, (_value(*toks[i + 1], column, text, key, path),)))
            i += 2
        else:
            raise ConfigError(
                f"filter {text!r}: expected an operator after '{column}'. Allowed: = != < <= > >= in, not in",
                key,
                path,
            )
        if i == len(toks):
            return Filter(tuple(conds), text.strip())
        if toks[i][0] == "word" and toks[i][1].lower() == "and":
            i += 1
            continue
        raise ConfigError(
            f"filter {text!r}: unexpected {toks[i][1]!r}; clauses are joined with 'and'", key, path
        )

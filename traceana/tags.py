"""Ingest tags: ``traceana ingest --set env=prod --set region=eu`` labels every request row.

Stored in the requests column ``tags`` as a JSON object (``{"env": "prod"}``);
``--by env`` groups on a tag when no column has that name. Keys are
identifiers (letters, digits, ``_``, ``-``), so a key is safe in the JSON path
that reads it; values are any text, read back as strings and never pasted
into SQL or an expression.
"""

from __future__ import annotations

import json
import re

import polars as pl

from traceana.errors import TraceanaError

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


def parse(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["env=prod", "run=r1"]`` -> {"env": "prod", "run": "r1"}; TraceanaError naming a bad item."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not KEY.match(key):
            raise TraceanaError(
                f"--set {item!r}: expected key=value with a key of letters, digits, '_' or '-'"
            )
        if key in out:
            raise TraceanaError(f"--set: tag '{key}' given twice")
        out[key] = value
    return out


def encode(tags: dict[str, str]) -> str:
    for key in tags:
        if not KEY.match(key):
            raise TraceanaError(f"tag key {key!r}: letters, digits, '_' or '-' only")
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


def tag_keys(lf: pl.LazyFrame) -> list[str]:
    """The tag keys present in the requests."""
    if "tags" not in lf.collect_schema().names():
        return []
    values = lf.select(pl.col("tags").cast(pl.String).drop_nulls().unique()).collect().to_series().to_list()
    return sorted({k for v in values for k in json.loads(v)})


def with_tag_columns(lf: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
    """``lf`` with a string column per tag key in ``names`` that is not already a column (null where untagged)."""
    cols = set(lf.collect_schema().names())
    if "tags" not in cols:
        return lf
    keys = set(tag_keys(lf))
    extra = [n for n in names if n not in cols and n in keys and KEY.match(n)]
    if not extra:
        return lf
    return lf.with_columns(
        pl.col("tags").cast(pl.String).str.json_path_match(f"$.{k}").alias(k) for k in extra
    )


def overlay(df: pl.DataFrame, tag_json: str) -> pl.DataFrame:
    """The ingest's ``--set`` tags over each row's own (an adapter's sweep point, e.g. GuideLLM's rate).

    A key given with ``--set`` wins over the same key from the source; the other keys of both stay.
    """
    if "tags" not in df.columns or df["tags"].null_count() == df.height:
        return df.with_columns(pl.lit(tag_json, pl.String).alias("tags"))
    extra = json.loads(tag_json)
    own = df["tags"].drop_nulls().unique().to_list()  # a handful of distinct sweep points
    merged = {t: json.dumps({**json.loads(t), **extra}, sort_keys=True, ensure_ascii=False) for t in own}
    return df.with_columns(pl.col("tags").replace(merged).fill_null(tag_json))

"""The two sides of ``traceana compare``: two inputs, or two slices (filter and/or time window) of one.

A PATH is a store directory (it holds ``traceana-store.json``) or any file or
directory ``traceana ingest`` reads (ingested into a temporary store). Slices
reuse :mod:`traceana.filters` (parsed into polars expressions, never SQL).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from traceana.errors import ConfigError, TraceanaError


@dataclass(frozen=True)
class SliceSpec:
    """A filter and a [start, end) arrival window; either may be absent."""

    filter_text: str | None = None
    window: tuple[datetime | None, datetime | None] | None = None

    def label(self, fallback: str) -> str:
        parts = [self.filter_text] if self.filter_text else []
        if self.window:
            a, b = self.window
            parts.append(f"arrivals [{a.isoformat() if a else 'start'}, {b.isoformat() if b else 'end'})")
        return " ".join(parts) or fallback

    def apply(self, lf: pl.LazyFrame, key: str) -> pl.LazyFrame:
        from traceana.filters import parse_filter

        if self.filter_text:
            lf = lf.filter(parse_filter(self.filter_text, key=key).expr())
        if self.window:
            a, b = self.window
            if a is not None:
                lf = lf.filter(pl.col("arrival_time") >= a)
            if b is not None:
                lf = lf.filter(pl.col("arrival_time") < b)
        return lf

    def empty(self) -> bool:
        return not self.filter_text and not self.window


def parse_window(text: str | None, key: str) -> tuple[datetime | None, datetime | None] | None:
    """'START..END' (ISO-8601, either end may be empty) -> (start, end) in UTC."""
    if text is None:
        return None
    from traceana.units import parse_datetime

    if ".." not in text:
        raise ConfigError(
            f"window {text!r} must be START..END (ISO-8601, e.g. 2025-01-01T00:00Z..2025-01-02T00:00Z)", key
        )
    a, b = (s.strip() for s in text.split("..", 1))
    try:
        start, end = (parse_datetime(a) if a else None), (parse_datetime(b) if b else None)
    except ValueError:
        raise ConfigError(f"window {text!r}: not an ISO-8601 time (e.g. 2025-01-01T00:00:00Z)", key) from None
    if start and end and end <= start:
        raise ConfigError(f"window {text!r}: the end is not after the start", key)
    return start, end


def is_store(path: str | Path) -> bool:
    from traceana.store import MANIFEST

    return (Path(path) / MANIFEST).is_file()


@contextlib.contextmanager
def open_one(path: str, fmt: str | None = None) -> Iterator:
    """A Store for ``path``: the store itself, or a temporary one holding its ingested files."""
    from traceana.ingest.inputs import check_ingest, open_inputs
    from traceana.store import open_store

    if is_store(path):
        yield open_store(path, create=False)
        return
    if not Path(path).exists():
        raise TraceanaError(f"{path}: no such file or directory")
    with open_inputs([path], None, fmt=fmt) as st:
        check_ingest(st)
        yield st


@contextlib.contextmanager
def open_sides(
    paths: Sequence[str], store_dir: str | None, fmt: str | None, base: SliceSpec, candidate: SliceSpec
) -> Iterator[tuple[tuple[str, pl.LazyFrame], tuple[str, pl.LazyFrame]]]:
    """((base label, requests), (candidate label, requests)) for the CLI's argument shapes.

    Two PATHs: each is a side (a slice spec, if given, applies to both). One input
    (one PATH or --store): base and candidate are its two slices, which must differ.
    """
    sources = list(paths) + ([store_dir] if store_dir else [])
    if len(sources) == 2 and not store_dir:
        with open_one(sources[0], fmt) as a, open_one(sources[1], fmt) as b:
            yield (
                (
                    base.label(sources[0]) if not base.empty() else sources[0],
                    base.apply(a.requests(), "--base"),
                ),
                (
                    candidate.label(sources[1]) if not candidate.empty() else sources[1],
                    candidate.apply(b.requests(), "--candidate"),
                ),
            )
        return
    if len(sources) != 1:
        raise ConfigError(
            "give BASE CANDIDATE (two files or stores), or one input (PATH or --store DIR) with --base / "
            "--candidate filters or --base-window / --candidate-window",
            "inputs",
        )
    if base.empty() and candidate.empty():
        raise ConfigError(
            "one input and no slices: base and candidate would be the same requests. Hint: --base "
            "'model_version=v1' --candidate 'model_version=v2', or --base-window / --candidate-window",
            "inputs",
        )
    with open_one(sources[0], fmt) as st:
        lf = st.requests()
        yield (
            (base.label("base"), base.apply(lf, "--base")),
            (candidate.label("candidate"), candidate.apply(lf, "--candidate")),
        )


@contextlib.contextmanager
def open_runs(paths: Sequence[str], fmt: str | None) -> Iterator[list[tuple[str, pl.LazyFrame]]]:
    """One (label, requests) per PATH for ``--sweep``."""
    if len(paths) < 2:
        raise ConfigError("--sweep needs two or more runs (one PATH per configuration)", "inputs")
    with contextlib.ExitStack() as stack:
        yield [(p, stack.enter_context(open_one(p, fmt)).requests()) for p in paths]

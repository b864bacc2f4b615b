"""The numpy ISO-8601 reader in coerce gives exactly what the strptime formats give, value by value."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from traceana.ingest import coerce

FIRSTS = [
    "2025-03-03T00:00:00.110591Z",
    "2025-03-03T00:00:00Z",
    "2025-03-03T00:00:00.5+01:30",
    "2025-03-03 10:00:00",
    "2025-03-03T00:00:00-05:00",
    "2025-03-03T00:00:00.123",
]
ODD = [
    None,
    "2024-02-29T23:59:59.5+01:30",
    "2023-02-29T00:00:00Z",
    " 2025-03-03T00:00:00Z",
    "2025-03-03 10:00:00",
    "1741000000.5",
    "2025-13-01T00:00:00Z",
    "2025-03-03T24:00:00Z",
    "2025-03-03T00:00:00.1234567Z",
    "2025-03-03T00:00:60Z",
    "2025-03-03T00:00:00-05:00",
    "2025-03-03T00:00:00+0100",
    "garbage",
    "",
    "2025-03-03T00:00:00.000001Z",
    "0999-03-03T00:00:00Z",
    "2000-02-29T12:00:00Z",
    "1900-02-29T12:00:00Z",
    "2025-03-03t00:00:00Z",
    "２０２５-03-03T00:00:00Z",
    "2025-03-03T00:00:00+24:00",
    "2025-03-03T00:00:00+23:59",
    "2025-00-10T00:00:00Z",
    "2025-04-31T00:00:00Z",
    "2025-03-03T00:00:00.12Z",
    "2025/03/03T00:00:00Z",
]


def _slow(s: pl.Series, monkeypatch) -> pl.Series:
    with monkeypatch.context() as m:
        m.setattr(coerce, "_iso_fast", lambda s: None)
        return coerce.parse_timestamps(s)


@pytest.mark.parametrize("first", FIRSTS)
def test_same_as_strptime_on_odd_values(first, monkeypatch):
    s = pl.Series("t", [first, *ODD])
    assert coerce._iso_fast(s) is not None
    assert coerce.parse_timestamps(s).to_list() == _slow(s, monkeypatch).to_list()


_digit = st.sampled_from("0123456789")
_part = st.text(alphabet="0123456789", min_size=1, max_size=3)


@st.composite
def _stamp(draw):
    y = draw(st.integers(900, 3100))
    mo, d = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    h, mi, sec = draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))
    sep = draw(st.sampled_from("T T"))
    frac = draw(st.sampled_from(["", ".5", ".123456", ".1234567", ".12"]))
    zone = draw(st.sampled_from(["", "Z", "+00:00", "-05:30", "+14:00", "+24:00", "+01:60", "+0100"]))
    return f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{sec:02d}{frac}{zone}"


@given(st.lists(_stamp(), min_size=1, max_size=40))
def test_same_as_strptime_on_random_stamps(values):
    s = pl.Series("t", values)
    fast = coerce.parse_timestamps(s)
    saved = coerce._iso_fast
    coerce._iso_fast = lambda s: None
    try:
        slow = coerce.parse_timestamps(s)
    finally:
        coerce._iso_fast = saved
    assert fast.to_list() == slow.to_list()

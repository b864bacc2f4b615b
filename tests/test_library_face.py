"""Item 9 of issue 15: the library face. Reading never creates a store; traceana.metrics lists its functions."""

from __future__ import annotations

import inspect

import pytest

import traceana
from traceana.errors import StoreError


def test_open_store_for_reading_does_not_create_one(tmp_path):
    where = tmp_path / "nothing-here"
    with pytest.raises(StoreError, match="no traceana store here"):
        traceana.open_store(where)
    assert not where.exists()
    st = traceana.open_store(where, create=True)  # ingesting creates it
    assert traceana.open_store(where).root == st.root


def test_metrics_lists_its_public_functions():
    import traceana.metrics as m

    public = set(m.__all__)
    assert set(m.FAMILIES) <= public
    for name in m.FUNCTIONS:
        assert name in public and name in dir(m) and callable(getattr(m, name))
    # every public function of every family module is listed, and is the family's own
    for fam in m.FAMILIES:
        mod = getattr(m, fam)
        own = {
            n
            for n, f in inspect.getmembers(mod, inspect.isfunction)
            if not n.startswith("_") and f.__module__ == mod.__name__ and n not in m.FAMILIES
        }
        assert own <= set(m.FUNCTIONS), (fam, sorted(own - set(m.FUNCTIONS)))
        assert all(getattr(m, n) is getattr(mod, n) for n in own if m.FUNCTIONS[n] == fam)

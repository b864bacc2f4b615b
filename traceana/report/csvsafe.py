"""CSV formula injection (OWASP "CSV Injection"): text cells a spreadsheet would run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
prefixed with a single quote, so Excel, LibreOffice and Google Sheets show it
as text: ``=HYPERLINK("http://x")`` is written ``'=HYPERLINK("http://x")``.
Only text columns are touched; numbers (``-1.5``) stay numbers.
"""

from __future__ import annotations

import polars as pl

#: the leading characters OWASP lists
FORMULA_START = r"^[=+\-@\t\r]"


def neutralize_formulas(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``lf`` with every text cell that starts like a formula prefixed with ``'``."""
    schema = lf.collect_schema()
    text = [name for name, dtype in schema.items() if dtype in (pl.String, pl.Categorical)]
    return lf.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )

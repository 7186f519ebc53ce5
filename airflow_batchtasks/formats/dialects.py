"""CSV dialect options from a definition's ``output`` block.

``line_suffix`` is folded into the line terminator so the csv module still
does all quoting and escaping in C, one call per batch of rows.
"""

from __future__ import annotations

import csv
from typing import Any

from airflow_batchtasks.definitions.models import DELIMITERS

QUOTING = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "nonnumeric": csv.QUOTE_NONNUMERIC,
    "none": csv.QUOTE_NONE,
}


def writer_options(output: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``csv.writer`` from an output dict (the model's ``model_dump``)."""
    fmt = output.get("format", "csv")
    options: dict[str, Any] = {
        "delimiter": output.get("delimiter") or DELIMITERS.get(fmt, ","),
        "quoting": QUOTING[output.get("quoting", "minimal")],
        "lineterminator": (output.get("line_suffix") or "") + output.get("line_terminator", "\n"),
    }
    if options["quoting"] == csv.QUOTE_NONE:
        options["escapechar"] = "\\"
    return options

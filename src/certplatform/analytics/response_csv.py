"""Reading a scored response matrix from CSV: one column per item, one row per person.

The header row names the items. Cells are 1 (correct), 0 (wrong) or blank / NA (not
presented). A leading person-id column is recognised by its header (blank, `id`, `person`,
`learner`, `rownames`) or requested explicitly.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from certplatform.analytics.irt import Responses

_ID_HEADERS = {"", "id", "person", "person_id", "learner", "learner_id", "rownames"}
_MISSING = {"", "na", "nan"}


class MalformedResponses(ValueError):
    """The file is not a 0/1 response matrix; the message says where and why."""


def read_responses(data: bytes | str, *, id_column: bool | None = None) -> Responses:
    """Parse a response matrix. `id_column=None` detects a person-id column by its header."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedResponses("the file is not UTF-8 text") from exc
    # Blank lines are skipped; a row of empty cells is a person who was shown nothing.
    reader = csv.reader(io.StringIO(data))
    rows = [(reader.line_num, row) for row in reader if len(row) > 1 or "".join(row).strip()]
    if not rows:
        raise MalformedResponses("the file is empty: expected a header row of item names")
    header = [cell.strip() for cell in rows[0][1]]
    if id_column is None:
        id_column = header[0].lower() in _ID_HEADERS
    names = header[1:] if id_column else header
    if not names:
        raise MalformedResponses("the header names no items")
    missing_names = [i + 1 for i, name in enumerate(names) if not name]
    if missing_names:
        raise MalformedResponses(f"item column {missing_names[0]} has no name in the header")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MalformedResponses(f"item names appear twice in the header: {', '.join(duplicates)}")
    body = rows[1:]
    if not body:
        raise MalformedResponses("the file has a header but no response rows")

    matrix = np.full((len(body), len(names)), np.nan)
    for r, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise MalformedResponses(
                f"line {line} has {len(row)} values but the header has {len(header)} columns"
            )
        cells = row[1:] if id_column else row
        for col, cell in enumerate(cells):
            value = cell.strip()
            if value == "1":
                matrix[r, col] = 1.0
            elif value == "0":
                matrix[r, col] = 0.0
            elif value.lower() not in _MISSING:
                raise MalformedResponses(
                    f"line {line}, item {names[col]}: {value!r} is not 0, 1 or blank"
                )
    if np.isnan(matrix).all():
        raise MalformedResponses("the file holds no responses, only blanks")
    return Responses.from_matrix(matrix, tuple(names))

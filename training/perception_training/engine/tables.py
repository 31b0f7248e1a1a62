"""CSV files a person reads after a run: one row per epoch or per class, written as they come."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


def append_row(path: Path, row: dict[str, object]) -> None:
    """Add ``row`` to a CSV file, keeping its columns aligned.

    A row with a column the file lacks (a metric that appears in a later epoch, or one a
    resumed run measures and the first session did not) rewrites the file with the union of
    the columns; cells a row lacks stay empty.
    """
    rows = read_rows(path)
    columns = list(rows[0]) if rows else []
    new = [key for key in row if key not in columns]
    if rows and not new:
        with path.open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=columns).writerow(row)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rows(path, [*rows, row], [*columns, *new])


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV file (empty when it does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> None:
    """Write ``rows`` as a fresh CSV file; ``columns`` defaults to the first row's keys."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns or rows[0]))
        writer.writeheader()
        writer.writerows(rows)

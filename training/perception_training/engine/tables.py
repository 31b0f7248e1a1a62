"""Tables a person reads after a run: CSV files (one row per epoch or per class, written as they
come) and the Markdown tables the reports print and write into docs/."""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Sequence
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


def markdown_table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], right: Collection[str] = ()
) -> list[str]:
    """The lines of a Markdown table: header, separator, one line per row; the ``right`` columns
    (numbers) are right-aligned."""
    separator = "".join("---:|" if column in right else "---|" for column in columns)
    return [_markdown_row(columns), "|" + separator, *(_markdown_row(row) for row in rows)]


def _markdown_row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"

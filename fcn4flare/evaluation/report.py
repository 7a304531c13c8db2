"""Tables of the model evaluation: plain text for the terminal, CSV, JSON and reStructuredText.

Part of `fcn4flare.evaluation` (run by ``fcn4flare evaluate``); see ``docs/benchmarks.rst``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Column", "Table", "write_json", "MISSING"]

#: How an undefined number (NaN, None) is printed.
MISSING = "--"


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header and a format spec for numbers."""

    key: str
    header: str
    fmt: str = ""


@dataclass
class Table:
    """A titled table of rows (dicts), printable as text and writable as CSV or rst.

    Examples
    --------
    >>> table = Table("t", "Demo", [Column("a", "A"), Column("b", "B", ".2f")])
    >>> table.add(a="x", b=0.5)
    >>> print(table.to_text())
    Demo
    A  B
    -  ----
    x  0.50
    """

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    print_limit: int | None = None

    def add(self, **row: Any) -> None:
        """Append one row."""
        self.rows.append(row)

    def cells(self) -> list[list[str]]:
        """Formatted cells, one list per row."""
        return [[_format(row.get(c.key), c.fmt) for c in self.columns] for row in self.rows]

    def to_text(self) -> str:
        """Aligned plain-text table under its title (and its note, if any)."""
        headers = [c.header for c in self.columns]
        body = self.cells()
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
                  for i, h in enumerate(headers)]
        lines = [self.title]
        lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        shown = body if self.print_limit is None else body[: self.print_limit]
        for row in shown:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if len(shown) < len(body):
            lines.append(f"... {len(body) - len(shown)} more rows in {self.name}.csv")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_rst(self) -> str:
        """A reStructuredText simple table preceded by its title as a bold paragraph."""
        headers = [c.header for c in self.columns]
        body = [[cell or MISSING for cell in row] for row in self.cells()]
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
                  for i, h in enumerate(headers)]
        rule = "  ".join("=" * w for w in widths)
        lines = [f"**{self.title}**", "", rule,
                 "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
                 rule]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                  for row in body]
        lines.append(rule)
        if self.note:
            lines += ["", self.note.replace("\n", "\n\n")]
        return "\n".join(lines) + "\n"

    def to_csv(self, path: Path) -> None:
        """Write every key of every row (unformatted) as CSV."""
        keys: list[str] = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        with open(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=keys)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _plain(row.get(k)) for k in keys})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: title, note and rows."""
        return {"title": self.title, "note": self.note,
                "columns": [[c.key, c.header, c.fmt] for c in self.columns],
                "rows": [{k: _plain(v) for k, v in row.items()} for row in self.rows]}


def _format(value: Any, fmt: str) -> str:
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING
        return format(float(value), fmt or ".4g")
    if isinstance(value, (int, np.integer)) and fmt:
        return format(int(value), fmt)
    return str(value)


def _plain(value: Any) -> Any:
    """Python scalars for CSV and JSON (NaN becomes None)."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def write_json(path: Path, metadata: dict[str, Any], tables: Sequence[Table],
               extra: dict[str, Any] | None = None) -> None:
    """All tables and the run's metadata in one JSON file."""
    payload = {"metadata": metadata, "tables": {t.name: t.to_dict() for t in tables}}
    if extra:
        payload.update(extra)
    path.write_text(json.dumps(payload, indent=1, default=_plain) + "\n")

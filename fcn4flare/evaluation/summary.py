"""The evaluation's headline numbers as one Markdown table, for a model card (``summary.md``).

Part of `fcn4flare.evaluation` (written by ``fcn4flare evaluate`` beside the full tables and
read by ``fcn4flare release``). Every number is copied from a table of the same run; a table
the run did not produce (no real light curves, no peers) leaves its rows out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .report import MISSING, Table

__all__ = ["DEFAULT_METHOD", "RAW_METHOD", "summary_markdown"]

#: The method whose rows the summary reports: what ``lc.flares.detect()`` returns.
DEFAULT_METHOD = "fcn4flare default rules"
#: The method whose continuous score gives the average precision.
RAW_METHOD = "fcn4flare p>0.5"
_PEERS = ("AltaiPony", "stella")


def summary_markdown(tables: Sequence[Table], targets: dict[str, float] | None = None) -> str:
    """The headline numbers of an evaluation: fcn4flare's default rules, then the peers.

    Parameters
    ----------
    tables : sequence of `~fcn4flare.evaluation.report.Table`
        The tables of one run (``Evaluation.tables``), found by name.
    targets : dict, optional
        ``clear_recall``, ``dice``, ``split``, ``false_per_30d`` targets to print beside the
        numbers (defaults: those of ``fcn4flare.evaluation.protocol``).

    Returns
    -------
    str
        A Markdown table with one row per measurement and one column per method.

    Examples
    --------
    >>> from fcn4flare.evaluation.report import Column, Table
    >>> targets = Table("targets", "", [Column("file", "file")])
    >>> targets.add(file="all", method="fcn4flare default rules", target_recall=0.9, dice=0.8,
    ...             split=0.01)
    >>> print(summary_markdown([targets]))
    | measurement | fcn4flare | target |
    |---|---|---|
    | injections: clear-flare recall, all files | 0.900 | >= 0.90 |
    | injections: point-wise Dice | 0.800 | >= 0.75 |
    | injections: recovered flares split into several rows | 1.0 % | < 2 % |
    """
    from .protocol import TARGET_DICE, TARGET_EVENT_RECALL, TARGET_SPLIT

    goal = {"clear_recall": TARGET_EVENT_RECALL, "dice": TARGET_DICE, "split": TARGET_SPLIT,
            "false_per_30d": 1.0, **(targets or {})}
    by_name = {table.name: table for table in tables}
    methods = [DEFAULT_METHOD] + [p for p in _PEERS if _has_method(by_name, p)]
    rows: list[tuple[str, dict[str, str], str]] = []

    def add(label: str, table: str, where: Callable[[dict[str, Any]], bool],
            value: Callable[[dict[str, Any]], str], target: str = "",
            fcn_only: str | None = DEFAULT_METHOD) -> None:
        if table not in by_name:
            return
        # fcn_only: the fcn4flare column is read from that method's rows (None: rows without
        # a method column) and the peers' columns stay empty
        sources = {DEFAULT_METHOD: fcn_only} if fcn_only != DEFAULT_METHOD else \
            {m: m for m in methods}
        cells = {}
        for column, method in sources.items():
            row = next((r for r in by_name[table].rows
                        if r.get("method") == method and where(r)), None)
            cells[column] = MISSING if row is None else value(row)
        if any(v != MISSING for v in cells.values()):
            rows.append((label, cells, target))

    files = [r["file"] for r in by_name["targets"].rows
             if r.get("method") == DEFAULT_METHOD and r["file"] != "all"] \
        if "targets" in by_name else []
    for file in files:
        add(f"injections: clear-flare recall, {file}", "targets",
            lambda r, f=file: r["file"] == f, lambda r: _number(r.get("target_recall")),
            f">= {goal['clear_recall']:.2f}")
    add("injections: clear-flare recall, all files", "targets", lambda r: r["file"] == "all",
        lambda r: _number(r.get("target_recall")), f">= {goal['clear_recall']:.2f}")
    add("injections: point-wise Dice", "targets", lambda r: r["file"] == "all",
        lambda r: _number(r.get("dice")), f">= {goal['dice']:.2f}")
    add("injections: average precision (probability)", "injection",
        lambda r: r["file"] == "all", lambda r: _number(r.get("average_precision")),
        fcn_only=RAW_METHOD)
    add("injections: recovered flares split into several rows", "targets",
        lambda r: r["file"] == "all", lambda r: _percent(r.get("split")),
        f"< {100 * goal['split']:.0f} %")
    for row in by_name["ffi_binned"].rows if "ffi_binned" in by_name else []:
        if row.get("method") == DEFAULT_METHOD:
            add(f"{row['file']}: clear-flare recall", "ffi_binned",
                lambda r, f=row["file"]: r["file"] == f,
                lambda r: _number(r.get("target_recall")), f">= {goal['clear_recall']:.2f}")
    add("un-injected real files: events per 30 d (all / away from excursions)",
        "false_events", lambda r: str(r["file"]).startswith("all"),
        lambda r: f"{_number(r.get('per_30d'), '.2f')} / "
                  f"{_number(r.get('outside_per_30d'), '.2f')}",
        f"<= {goal['false_per_30d']:g} false")
    add("simulated test sets: point-wise F1", "simulated_test", lambda r: r["family"] == "all",
        lambda r: _number(r.get("f1")))
    add("simulated test sets: average precision (probability)", "simulated_test",
        lambda r: r["family"] == "all", lambda r: _number(r.get("average_precision")),
        fcn_only=RAW_METHOD)
    add("simulated test sets: expected calibration error (raw / temperature-scaled)",
        "calibration", lambda r: r["family"] == "all",
        lambda r: f"{_number(r.get('ece'), '.4f')} / {_number(r.get('ece_scaled'), '.4f')}",
        fcn_only=None)

    shown = [m for m in methods if any(cells.get(m, MISSING) != MISSING for _, cells, _ in rows)]
    header = ["measurement", *(_method_label(m) for m in shown), "target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cells, target in rows:
        values = [cells.get(m, MISSING) for m in shown]
        lines.append("| " + " | ".join([label, *values, target]) + " |")
    return "\n".join(lines)


def _has_method(tables: dict[str, Table], method: str) -> bool:
    return any(r.get("method") == method for t in tables.values() for r in t.rows)


def _method_label(method: str) -> str:
    return "fcn4flare" if method == DEFAULT_METHOD else method


def _number(value: Any, fmt: str = ".3f") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return MISSING
    return MISSING if number != number else format(number, fmt)


def _percent(value: Any) -> str:
    text = _number(None if value is None else 100 * float(value), ".1f")
    return text if text == MISSING else f"{text} %"

"""Reporting (no framework): every measure against a target, found in the built report, as one
uniform list, so that dashboards and alerts need not know each section's own metric names.

A section measures a value against a target with `Targets.measure()`: a dict carrying
`target_key`, `value` and `met`. `measures()` walks the report and yields each such dict with
where it was found: `scope`, the dotted path of keys from the section (e.g.
`<domain>.areas.<area>.metrics.<measure>`), and `area`, the first key on that path that is an area code
of data/areas.json ("" for a district-wide measure). `due()` is when a target falls due: its
`due` field in the targets file (YYYY-MM-DD), else the end of the report year; after it, a target
not met pages the operator (deploy/prometheus/alerts.yml, PlanTargetMissedAfterDue).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping

MAX_DEPTH = 8   # report sections nest a few levels; a deeper dict is not a measure's place


@dataclass(frozen=True)
class Measure:
    key: str
    scope: str
    area: str
    value: float | None
    met: bool | None


def measures(built: Mapping[str, dict | None], areas) -> Iterator[Measure]:
    """Every target measure of every built section (a section without data has none)."""
    known = set(areas)
    for name, section in built.items():
        if isinstance(section, dict):
            yield from _walk(section, (name,), known)


def _walk(node: dict, path: tuple[str, ...], areas: set[str]) -> Iterator[Measure]:
    if "target_key" in node and "met" in node:
        area = next((part for part in path if part in areas), "")
        value = node.get("value")
        yield Measure(node["target_key"], ".".join(path), area,
                      None if value is None else float(value), node["met"])
        return
    if len(path) >= MAX_DEPTH:
        return
    for key, child in node.items():
        if isinstance(child, dict):
            yield from _walk(child, (*path, str(key)), areas)


def due(entry: dict, year: int) -> datetime:
    """The moment a target falls due (UTC): the day after its `due` date, or the next New Year."""
    day = date.fromisoformat(entry["due"]) if entry.get("due") else date(year, 12, 31)
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)

"""Application layer support of community building: the reference data under
services/community/reference/ that changes over time, loaded once and looked up by the
application (never by the domain).

- `communities.json`: star levels, the designations with the most one area may designate in a
  year (`limits`, effective-dated), the four meetings;
- `organisations.json`: kinds of civil organisations and the form (registration or filing) each
  requires; annual-inspection results;
- `villages.json`: openness results, model levels, the election window of each year;
- `facilities.json`: floor-area standards of service centres and committee offices
  (effective-dated), the largest floor area accepted, the projects the plan names;
- `workers.json`: the three hiring channels.
Pure: no I/O after loading. A malformed file fails at load time naming the file and the entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from services.community.domain import (
    CHANNELS, DESIGNATIONS, FACILITY_KINDS, FORMS, INSPECTION_RESULTS, MEETING_KINDS,
    MODEL_LEVELS, OPENNESS_RESULTS, STAR_LEVELS)
from shared.errors import Conflict, InvalidInput

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data


class RulesError(ValueError):
    """A reference file of community building is malformed; the message names file and entry."""


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: {error}") from None


def _in_force(rows, at: str):
    found = [row for row in rows if row["effective_from"] <= at]
    return found[-1] if found else None


def _dated(rows, where: str) -> tuple[dict, ...]:
    rows = sorted(rows, key=lambda r: r.get("effective_from", ""))
    starts = [r.get("effective_from", "") for r in rows]
    if not rows or len(set(starts)) != len(starts) or any(len(s) != 10 for s in starts):
        raise RulesError(f"{where}: rows need an effective_from (YYYY-MM-DD), each once")
    return tuple(rows)


def _closed(document: dict, key: str, allowed, where: str) -> dict:
    """A closed list of the file: its codes must be the ones the domain knows."""
    entries = document.get(key) or {}
    if set(entries) != set(map(str, allowed)):
        raise RulesError(f"{where}: {key} must list exactly {', '.join(map(str, allowed))}")
    return dict(entries)


@dataclass(frozen=True)
class CommunityRules:
    star_levels: dict[int, dict]
    designations: dict[str, dict]
    limits: dict[str, tuple[dict, ...]]
    meetings: dict[str, dict]
    kinds: dict[str, dict]
    inspection_results: dict[str, dict]
    openness_results: dict[str, dict]
    model_levels: dict[str, dict]
    election_windows: dict[int, dict]
    max_floor_area_m2: int
    standards: tuple[dict, ...]
    named_projects: tuple[dict, ...]
    channels: dict[str, dict]
    versions: dict

    @classmethod
    def load(cls, directory: Path | None = None) -> "CommunityRules":
        folder = Path(directory or REFERENCE_DIR)
        names = ("communities.json", "organisations.json", "villages.json", "facilities.json", "workers.json")
        communities, organisations, villages, facilities, workers = (_read(folder, n) for n in names)
        levels = _closed(communities, "star_levels", STAR_LEVELS, "communities.json")
        designations = _closed(communities, "designations", DESIGNATIONS, "communities.json")
        limits = {}
        for code, entry in designations.items():
            limits[code] = _dated(entry.get("limits", []), f"communities.json: designations.{code}.limits")
            if any(not isinstance(r.get("per_area_per_year"), int) or r["per_area_per_year"] < 1
                   for r in limits[code]):
                raise RulesError(f"communities.json: designations.{code}.limits: per_area_per_year must be >= 1")
        kinds = dict(organisations.get("kinds") or {})
        if not kinds or any(k.get("form") not in FORMS for k in kinds.values()):
            raise RulesError("organisations.json: every kind needs a form: " + ", ".join(FORMS))
        windows = {}
        for index, w in enumerate(villages.get("election_windows", [])):
            if not (isinstance(w.get("year"), int) and str(w.get("from", ""))[:4] == str(w["year"])
                    and w["from"] <= w.get("to", "") and str(w["to"])[:4] == str(w["year"])):
                raise RulesError(f"villages.json: election_windows[{index}]: from <= to, both in its year")
            windows[w["year"]] = w
        maximum = facilities.get("max_floor_area_m2")
        if not isinstance(maximum, int) or maximum < 1:
            raise RulesError("facilities.json: max_floor_area_m2 must be a whole number >= 1")
        standards = _dated(facilities.get("standards", []), "facilities.json: standards")
        for row in standards:
            if any(not isinstance(row.get(k), int) or not 0 < row[k] <= maximum for k in FACILITY_KINDS):
                raise RulesError(f"facilities.json: standards {row['effective_from']}: "
                                 f"{' and '.join(FACILITY_KINDS)} in m², 1..max_floor_area_m2")
        projects = tuple(facilities.get("named_projects", []))
        if len({p["code"] for p in projects}) != len(projects) or any(
                p.get("kind") not in FACILITY_KINDS for p in projects):
            raise RulesError("facilities.json: named_projects need a unique code and a facility kind")
        return cls(star_levels={int(k): v for k, v in levels.items()}, designations=designations,
                   limits=limits, meetings=_closed(communities, "meetings", MEETING_KINDS, "communities.json"),
                   kinds=kinds,
                   inspection_results=_closed(organisations, "inspection_results", INSPECTION_RESULTS,
                                              "organisations.json"),
                   openness_results=_closed(villages, "openness_results", OPENNESS_RESULTS, "villages.json"),
                   model_levels=_closed(villages, "model_levels", MODEL_LEVELS, "villages.json"),
                   election_windows=windows, max_floor_area_m2=maximum, standards=standards,
                   named_projects=projects,
                   channels=_closed(workers, "channels", CHANNELS, "workers.json"),
                   versions={n.removesuffix(".json"): d.get("version", "") for n, d in
                             zip(names, (communities, organisations, villages, facilities, workers))})

    # --- closed lists -------------------------------------------------------------------------------

    @staticmethod
    def _refused(value, choices) -> bool:
        return isinstance(value, bool) or value not in choices

    @staticmethod
    def _listed(choices) -> str:
        return ", ".join(map(str, choices))

    def check_designation(self, value) -> str:
        if self._refused(value, self.designations):
            raise InvalidInput("designation", "must be one of the designations: " + self._listed(self.designations),
                               code="community.unknown_designation")
        return value

    def check_meeting(self, value) -> str:
        if self._refused(value, self.meetings):
            raise InvalidInput("kind", "must be one of the four meetings: " + self._listed(self.meetings),
                               code="community.unknown_meeting_kind")
        return value

    def check_kind(self, value) -> str:
        if self._refused(value, self.kinds):
            raise InvalidInput("kind", "must be one of the kinds of organisation: " + self._listed(self.kinds),
                               code="community.unknown_organisation_kind")
        return value

    def check_inspection_result(self, value) -> str:
        if self._refused(value, self.inspection_results):
            raise InvalidInput("result", "must be one of the inspection results: "
                               + self._listed(self.inspection_results), code="community.unknown_inspection_result")
        return value

    def check_openness_result(self, value) -> str:
        if self._refused(value, self.openness_results):
            raise InvalidInput("result", "must be one of the openness results: "
                               + self._listed(self.openness_results), code="community.unknown_openness_result")
        return value

    def check_model_level(self, value) -> str:
        if self._refused(value, self.model_levels):
            raise InvalidInput("level", "must be one of the model levels: " + self._listed(self.model_levels),
                               code="community.unknown_model_level")
        return value

    def check_facility_kind(self, value) -> str:
        if self._refused(value, FACILITY_KINDS):
            raise InvalidInput("kind", "must be one of the facility kinds: " + self._listed(FACILITY_KINDS),
                               code="community.unknown_facility_kind")
        return value

    def check_channel(self, value) -> str:
        if self._refused(value, self.channels):
            raise InvalidInput("channel", "must be one of the three hiring channels: " + self._listed(self.channels),
                               code="community.unknown_channel")
        return value

    # --- effective-dated -------------------------------------------------------------------------------

    def designation_limit(self, designation: str, day: str) -> int:
        row = _in_force(self.limits[designation], day)
        if row is None:
            raise Conflict("designated_on", f"no designation limit in force on {day} "
                                            "(services/community/reference/communities.json)",
                           code="community.no_limit_in_force")
        return row["per_area_per_year"]

    def standard_m2(self, kind: str, day: str, field: str) -> int:
        row = _in_force(self.standards, day)
        if row is None:
            raise Conflict(field, f"no floor-area standard in force on {day} "
                                  "(services/community/reference/facilities.json)",
                           code="community.no_standard_in_force")
        return row[kind]

    def election_window(self, day: str) -> tuple[str, str] | None:
        window = self.election_windows.get(int(day[:4]))
        return (window["from"], window["to"]) if window else None

    def named_code(self, area: str, kind: str, name: str) -> str | None:
        for project in self.named_projects:
            if (project["area"], project["kind"], project["name"]) == (area, kind, name.strip()):
                return project["code"]
        return None

    def describe(self) -> dict:
        return {"versions": dict(self.versions), "star_levels": sorted(self.star_levels),
                "designations": {k: {"name": v.get("name"), "limits": [dict(r) for r in self.limits[k]]}
                                 for k, v in self.designations.items()},
                "meetings": list(self.meetings), "organisation_kinds": {k: v["form"] for k, v in self.kinds.items()},
                "inspection_results": list(self.inspection_results),
                "openness_results": list(self.openness_results), "model_levels": list(self.model_levels),
                "election_windows": [dict(w) for _, w in sorted(self.election_windows.items())],
                "max_floor_area_m2": self.max_floor_area_m2, "standards": [dict(r) for r in self.standards],
                "named_projects": [dict(p) for p in self.named_projects], "channels": list(self.channels)}

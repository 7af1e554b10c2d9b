"""Application layer support of conduct supervision: the reference data under
services/conduct_supervision/reference/, loaded once and looked up by the application (never by
the domain). Every rule that can change is effective-dated: a row applies from its
`effective_from` until the next.

- `communities.json`: the communities and villages of each area;
- `supervisors.json`: the longest term of a supervisor's appointment or renewal;
- `windows.json`: the service windows, the assessment methods each admits, the efficiency rule
  (a score below `measures_below` needs rectification measures);
- `complaints.json`: handling days of complaints and suggestions, and of a reopened or an
  escalated complaint;
- `assessment.json`: the four dimensions (德能勤绩), the grades and their points, the rule of the
  overall grade (weights, thresholds, the veto grade) and which overall grades earn a reward;
- `prohibitions.json`: the eight prohibitions (八不准; the bureau supplies the wording) and the
  measures a breach is handled with;
- `reviews.json`: the score scale of public reviews.
Pure: no I/O after loading. A malformed file fails at load time naming the file and the entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.conduct_supervision.domain import DIMENSIONS
from shared.errors import Conflict, InvalidInput

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data


class RulesError(ValueError):
    """A reference file of conduct supervision is malformed; the message names file and entry."""


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: {error}") from None


def _dated(rows, where: str) -> tuple[dict, ...]:
    if not isinstance(rows, list) or not rows:
        raise RulesError(f"{where}: must list at least one entry with effective_from")
    for index, row in enumerate(rows):
        try:
            date.fromisoformat(row.get("effective_from"))
        except (TypeError, ValueError, AttributeError):
            raise RulesError(f"{where}[{index}].effective_from: must be a date YYYY-MM-DD") from None
    days = [r["effective_from"] for r in rows]
    if len(set(days)) != len(days):
        raise RulesError(f"{where}: two entries take effect on the same day")
    return tuple(sorted(rows, key=lambda r: r["effective_from"]))


def _whole(value, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RulesError(f"{where}: must be a whole number >= {minimum}")
    return value


def _decimal(value, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RulesError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise RulesError(f"{where}: must be a number >= 0")
    return number


def _in_force(rows, day: str, what: str, field: str) -> dict:
    found = [r for r in rows if r["effective_from"] <= day]
    if not found:
        raise Conflict(field, f"no {what} in force on {day} (services/conduct_supervision/reference/)",
                       code="conduct.no_rule_in_force")
    return found[-1]


@dataclass(frozen=True)
class ConductRules:
    communities: dict[str, dict]       # community code -> area, name, kind
    terms: tuple[dict, ...]
    methods: dict[str, str]
    windows: dict[str, dict]
    efficiency: tuple[dict, ...]
    handling: tuple[dict, ...]
    grades: dict[str, dict]
    assessment: tuple[dict, ...]
    prohibitions: dict[str, str]
    measures: dict[str, str]
    scales: tuple[dict, ...]
    versions: dict

    @classmethod
    def load(cls, directory: Path | None = None) -> "ConductRules":
        folder = Path(directory or REFERENCE_DIR)
        docs = {name: _read(folder, f"{name}.json") for name in (
            "communities", "supervisors", "windows", "complaints", "assessment", "prohibitions", "reviews")}
        communities = {}
        for area, entries in (docs["communities"].get("communities") or {}).items():
            for index, entry in enumerate(entries):
                code = entry.get("code")
                if not code or code in communities or entry.get("kind") not in ("community", "village"):
                    raise RulesError(f"communities.json: {area}[{index}]: a unique code and a kind "
                                     "(community or village)")
                communities[code] = {"area": area, "name": entry.get("name", code), "kind": entry["kind"]}
        terms = _dated(docs["supervisors"].get("terms"), "supervisors.json: terms")
        for index, row in enumerate(terms):
            _whole(row.get("max_term_years"), f"supervisors.json: terms[{index}].max_term_years", 1)
        windows_doc = docs["windows"]
        methods = dict(windows_doc.get("methods") or {})
        windows = dict(windows_doc.get("windows") or {})
        for code, window in windows.items():
            if not window.get("methods") or set(window["methods"]) - set(methods):
                raise RulesError(f"windows.json: windows.{code}.methods must name methods of `methods`")
            if not window.get("area"):
                raise RulesError(f"windows.json: windows.{code} has no area")
        efficiency = _dated(windows_doc.get("efficiency"), "windows.json: efficiency")
        for index, row in enumerate(efficiency):
            if not 0 <= _whole(row.get("measures_below"), f"windows.json: efficiency[{index}].measures_below") <= 100:
                raise RulesError(f"windows.json: efficiency[{index}].measures_below must be 0-100")
        handling = _dated(docs["complaints"].get("handling"), "complaints.json: handling")
        for index, row in enumerate(handling):
            for key in ("complaint_days", "suggestion_days", "reopened_days", "escalated_days"):
                _whole(row.get(key), f"complaints.json: handling[{index}].{key}", 1)
        assessment_doc = docs["assessment"]
        if tuple(assessment_doc.get("dimensions") or ()) != DIMENSIONS:
            raise RulesError("assessment.json: dimensions must be " + ", ".join(DIMENSIONS) + " (德能勤绩)")
        grades = {code: {"name": g.get("name", code), "points": _decimal(g.get("points"), f"assessment.json: grades.{code}")}
                  for code, g in (assessment_doc.get("grades") or {}).items()}
        if "excellent" not in grades:
            raise RulesError("assessment.json: grades must include excellent")
        assessment = _dated(assessment_doc.get("rules"), "assessment.json: rules")
        for index, rule in enumerate(assessment):
            where = f"assessment.json: rules[{index}]"
            weights = rule.get("weights") or {}
            if set(weights) != set(DIMENSIONS) or sum(_decimal(w, where) for w in weights.values()) != 1:
                raise RulesError(f"{where}.weights: one weight per dimension, summing to 1")
            overall = rule.get("overall") or []
            if not overall or any(o.get("grade") not in grades for o in overall) \
                    or _decimal(overall[-1].get("min_points"), where) != 0:
                raise RulesError(f"{where}.overall: grades of `grades`, the last with min_points 0")
            if rule.get("veto") is not None and rule["veto"] not in grades:
                raise RulesError(f"{where}.veto: must be a grade")
            if set(rule.get("rewarded") or ()) - set(grades):
                raise RulesError(f"{where}.rewarded: must name grades")
        prohibitions = dict(docs["prohibitions"].get("prohibitions") or {})
        if len(prohibitions) != 8:
            raise RulesError("prohibitions.json: the bureau's rule names eight prohibitions (八不准)")
        scales = _dated(docs["reviews"].get("scales"), "reviews.json: scales")
        for index, row in enumerate(scales):
            low = _whole(row.get("min"), f"reviews.json: scales[{index}].min")
            if _whole(row.get("max"), f"reviews.json: scales[{index}].max") <= low or row["max"] > 100:
                raise RulesError(f"reviews.json: scales[{index}]: min < max <= 100")
        return cls(communities=communities, terms=terms, methods=methods, windows=windows,
                   efficiency=efficiency, handling=handling, grades=grades, assessment=assessment,
                   prohibitions=prohibitions, measures=dict(docs["prohibitions"].get("measures") or {}),
                   scales=scales, versions={k: d.get("version", "") for k, d in docs.items()})

    # --- lookups -----------------------------------------------------------------------------------

    def community(self, code, area: str | None = None, field: str = "community") -> dict:
        entry = self.communities.get(code)
        if entry is None:
            raise InvalidInput(field, "unknown community or village (reference/communities.json)",
                               code="conduct.unknown_community")
        if area is not None and entry["area"] != area:
            raise InvalidInput(field, f"{code} is in {entry['area']}, not in {area}",
                               code="conduct.community_not_in_area")
        return entry

    def max_term_years(self, day: str) -> int:
        return _in_force(self.terms, day, "supervisor term rule", "appointed_on")["max_term_years"]

    def window(self, code) -> dict:
        if code not in self.windows:
            raise InvalidInput("window", "must be one of the service windows: " + ", ".join(sorted(self.windows)),
                               code="conduct.unknown_window")
        return self.windows[code]

    def measures_below(self, day: str) -> int:
        return _in_force(self.efficiency, day, "efficiency rule", "assessed_on")["measures_below"]

    def handling_on(self, day: str) -> dict:
        return _in_force(self.handling, day, "complaint handling rule", "received_on")

    def scale_on(self, day: str) -> tuple[int, int]:
        row = _in_force(self.scales, day, "review scale", "reviewed_on")
        return row["min"], row["max"]

    def check_prohibition(self, code) -> str:
        if code not in self.prohibitions:
            raise InvalidInput("prohibition", "must be one of the eight prohibitions: "
                               + ", ".join(self.prohibitions), code="conduct.unknown_prohibition")
        return code

    def check_measure(self, code) -> str:
        if code not in self.measures:
            raise InvalidInput("measure", "must be one of the measures: " + ", ".join(self.measures),
                               code="conduct.unknown_measure")
        return code

    def check_grades(self, grades: dict) -> dict[str, str]:
        for dimension in DIMENSIONS:
            if grades.get(dimension) not in self.grades:
                raise InvalidInput(dimension, "must be one of the grades: " + ", ".join(self.grades),
                                   code="conduct.unknown_grade")
        return {d: grades[d] for d in DIMENSIONS}

    def overall(self, grades: dict[str, str], year: int) -> tuple[str, bool, str]:
        """(overall grade, rewarded, the rule's effective_from) by the rule in force at the end
        of the assessed year."""
        rule = _in_force(self.assessment, f"{year}-12-31", "assessment rule", "year")
        if rule.get("veto") and rule["veto"] in grades.values():
            grade = rule["veto"]
        else:
            points = sum(Decimal(str(rule["weights"][d])) * self.grades[grades[d]]["points"] for d in DIMENSIONS)
            grade = next(o["grade"] for o in rule["overall"] if points >= Decimal(str(o["min_points"])))
        return grade, grade in (rule.get("rewarded") or ()), rule["effective_from"]

    def describe(self, today: str) -> dict:
        return {"versions": dict(self.versions), "today": today,
                "communities": {code: dict(e) for code, e in sorted(self.communities.items())},
                "supervisor_terms": [dict(r) for r in self.terms],
                "windows": {code: dict(w) for code, w in sorted(self.windows.items())},
                "methods": dict(self.methods), "efficiency": [dict(r) for r in self.efficiency],
                "complaint_handling": [dict(r) for r in self.handling],
                "grades": {code: {"name": g["name"], "points": str(g["points"])} for code, g in self.grades.items()},
                "assessment_rules": [dict(r) for r in self.assessment],
                "prohibitions": dict(self.prohibitions), "measures": dict(self.measures),
                "review_scales": [dict(r) for r in self.scales]}

"""Application layer support of military support: the reference data under
services/military_support/reference/ that changes over time, loaded once and looked up by the
application (never by the domain).

- `benefits.json`: the benefit standards, rows with `effective_from` (yuan per month by category;
  for disabled servicemen by cause and grade, the grades a cause lists being the rated ones);
- `medical.json`: the insured grades, the insurance schemes, the medical-assistance scheme's
  eligible categories and its terms (reimbursement ratio, yearly cap) with `effective_from`;
- `workers.json`: the benefits of workers without military status, monthly caps with
  `effective_from`, and which are paid only until the placement;
- `double_support.json`: the eight channels, education venues and audiences, and the
  requirements of the model-district evidence file with `effective_from`.
Pure: no I/O after loading. A malformed file fails at load time naming the file and the entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.military_support.domain import CATEGORIES, CAUSES, DISABLED, GRADES
from shared.errors import Conflict, InvalidInput

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data


class RulesError(ValueError):
    """A reference file of military support is malformed; the message names file and entry."""


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: {error}") from None


def _amount(value, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RulesError(f"{where}: {value!r} is not an amount") from None
    if not number.is_finite() or number < 0 or number != number.quantize(Decimal("0.01")):
        raise RulesError(f"{where}: must be an amount in yuan >= 0, to the fen")
    return number.quantize(Decimal("0.01"))


def _in_force(rows, key: str, at: str):
    """The last row whose `key` (an ISO date or month) is at or before `at`, or None."""
    found = [row for row in rows
             if (getattr(row, key) if hasattr(row, key) else row[key]) <= at]
    return found[-1] if found else None


@dataclass(frozen=True)
class Standard:
    """One row of the benefit standards: in force from `effective_from`."""
    effective_from: str
    disabled: dict[str, dict[int, Decimal]]     # cause -> grade -> monthly
    others: dict[str, Decimal]                  # category -> monthly

    def rated(self) -> dict[str, tuple[int, ...]]:
        return {cause: tuple(sorted(grades)) for cause, grades in self.disabled.items()}

    def monthly(self, category: str, grade: int | None, cause: str | None) -> Decimal:
        if category == DISABLED:
            return self.disabled.get(cause, {}).get(grade, Decimal("0.00"))
        return self.others.get(category, Decimal("0.00"))


def _standards(document: dict) -> tuple[Standard, ...]:
    where = "services/military_support/reference/benefits.json"
    rows = []
    for index, entry in enumerate(document.get("standards", [])):
        at = f"{where}: standards[{index}]"
        start = str(entry.get("effective_from", ""))
        if len(start) != 10 or not start.endswith("-01"):
            raise RulesError(f"{at}: effective_from must be the first day of a month (YYYY-MM-01)")
        table = entry.get(DISABLED) or {}
        if set(table) - set(CAUSES):
            raise RulesError(f"{at}: {DISABLED} names causes other than {', '.join(CAUSES)}")
        disabled = {}
        for cause, grades in table.items():
            disabled[cause] = {}
            for grade, value in grades.items():
                if not grade.isdigit() or int(grade) not in GRADES:
                    raise RulesError(f"{at}: {DISABLED}.{cause}.{grade} is not a grade 1-10")
                disabled[cause][int(grade)] = _amount(value, f"{at}.{DISABLED}.{cause}.{grade}")
        others = {category: _amount(entry[category], f"{at}.{category}")
                  for category in CATEGORIES if category != DISABLED and category in entry}
        rows.append(Standard(start, disabled, others))
    rows.sort(key=lambda s: s.effective_from)
    if not rows or len({s.effective_from for s in rows}) != len(rows):
        raise RulesError(f"{where}: standards must list each effective_from once")
    return tuple(rows)


@dataclass(frozen=True)
class MilitaryRules:
    standards: tuple[Standard, ...]
    insured_grades: tuple[int, int]
    schemes: dict[str, dict]
    assistance_categories: tuple[str, ...]
    assistance_terms: tuple[dict, ...]         # effective_from, ratio, yearly_cap
    worker_benefits: dict[str, dict]           # kind -> until_placed, caps [(from month, cap)]
    channels: dict[str, dict]
    venues: dict[str, dict]
    audiences: dict[str, dict]
    model_title: str
    model_requires: tuple[dict, ...]
    versions: dict

    @classmethod
    def load(cls, directory: Path | None = None) -> "MilitaryRules":
        folder = Path(directory or REFERENCE_DIR)
        benefits, medical = _read(folder, "benefits.json"), _read(folder, "medical.json")
        workers, double = _read(folder, "workers.json"), _read(folder, "double_support.json")
        grades = medical.get("insured_grades") or {}
        low, high = int(grades.get("from", 1)), int(grades.get("to", 6))
        if not 1 <= low <= high <= 10:
            raise RulesError("medical.json: insured_grades must be from <= to within 1-10")
        assistance = medical.get("assistance") or {}
        eligible = tuple(assistance.get("eligible_categories", ()))
        if set(eligible) - set(CATEGORIES):
            raise RulesError("medical.json: assistance.eligible_categories names unknown categories")
        terms = tuple(sorted(({"effective_from": t["effective_from"],
                               "ratio": Decimal(str(t["reimbursement_ratio"])),
                               "yearly_cap": _amount(t["yearly_cap"], "medical.json: yearly_cap")}
                              for t in assistance.get("terms", [])), key=lambda t: t["effective_from"]))
        if any(not 0 < t["ratio"] <= 1 for t in terms):
            raise RulesError("medical.json: a reimbursement_ratio must be in (0, 1]")
        kinds = {}
        for kind, entry in (workers.get("benefits") or {}).items():
            caps = sorted((c["effective_from"], _amount(c["monthly_cap"], f"workers.json: {kind}"))
                          for c in entry.get("caps", []))
            kinds[kind] = {"until_placed": bool(entry.get("until_placed")), "caps": tuple(caps),
                           "name": entry.get("name", kind)}
        education = double.get("education") or {}
        model = double.get("model_district") or {}
        channels = double.get("channels") or {}
        if len(channels) != 8:
            raise RulesError("double_support.json: the plan names eight channels (八大载体)")
        return cls(standards=_standards(benefits), insured_grades=(low, high),
                   schemes=dict(medical.get("insurance_schemes") or {}),
                   assistance_categories=eligible, assistance_terms=terms,
                   worker_benefits=kinds, channels=dict(channels),
                   venues=dict(education.get("venues") or {}),
                   audiences=dict(education.get("audiences") or {}),
                   model_title=model.get("title", ""),
                   model_requires=tuple(sorted(model.get("requires", []),
                                               key=lambda r: r["effective_from"])),
                   versions={"benefits": benefits.get("version", ""),
                             "medical": medical.get("version", ""),
                             "workers": workers.get("version", ""),
                             "double_support": double.get("version", "")})

    # --- benefits --------------------------------------------------------------------------------

    def standard_on(self, day: str, field: str = "month") -> Standard:
        """The standards row in force on a day (a month: its first day)."""
        row = _in_force(self.standards, "effective_from", day)
        if row is None:
            raise Conflict(field, f"no benefit standard in force on {day} "
                                  "(services/military_support/reference/benefits.json)",
                           code="military.no_standard_in_force")
        return row

    def standard_in(self, month_: str) -> Standard:
        return self.standard_on(f"{month_}-01")

    # --- medical -----------------------------------------------------------------------------------

    def check_scheme(self, scheme) -> str:
        if scheme not in self.schemes:
            raise InvalidInput("scheme", "must be one of the medical-insurance schemes: "
                               + ", ".join(sorted(self.schemes)), code="military.unknown_scheme")
        return scheme

    def assistance_on(self, day: str) -> dict:
        terms = _in_force(self.assistance_terms, "effective_from", day)
        if terms is None:
            raise Conflict("claimed_on", f"no medical-assistance terms in force on {day} "
                                         "(services/military_support/reference/medical.json)",
                           code="military.no_assistance_terms")
        return terms

    # --- workers -----------------------------------------------------------------------------------

    def worker_benefit(self, kind, month_: str) -> tuple[Decimal, bool]:
        """(monthly cap in force in the month, paid only until the placement)."""
        if kind not in self.worker_benefits:
            raise InvalidInput("kind", "must be one of the workers' benefits: "
                               + ", ".join(sorted(self.worker_benefits)),
                               code="military.unknown_worker_benefit")
        entry = self.worker_benefits[kind]
        caps = [cap for start, cap in entry["caps"] if start <= month_]
        if not caps:
            raise Conflict("month", f"no cap of {kind} in force in {month_} (reference/workers.json)",
                           code="military.no_worker_cap_in_force")
        return caps[-1], entry["until_placed"]

    # --- double support ------------------------------------------------------------------------------

    def check_channel(self, channel) -> str:
        if channel not in self.channels:
            raise InvalidInput("channel", "must be one of the plan's eight channels: "
                               + ", ".join(self.channels), code="military.unknown_channel")
        return channel

    def check_venue(self, venue) -> str:
        if venue not in self.venues:
            raise InvalidInput("venue", "must be one of the education venues: " + ", ".join(self.venues),
                               code="military.unknown_venue")
        return venue

    def check_audience(self, audience) -> str:
        if audience not in self.audiences:
            raise InvalidInput("audience", "must be one of the audiences: " + ", ".join(self.audiences),
                               code="military.unknown_audience")
        return audience

    def requirements_on(self, day: str) -> dict:
        row = _in_force(self.model_requires, "effective_from", day)
        if row is None:
            raise Conflict("submitted_on", f"no model-district requirements in force on {day}",
                           code="military.no_requirements_in_force")
        return row

    def describe(self) -> dict:
        return {"versions": dict(self.versions),
                "standards": [{"effective_from": s.effective_from,
                               "disabled_serviceman": {c: {str(g): str(a) for g, a in sorted(t.items())}
                                                       for c, t in s.disabled.items()},
                               **{k: str(v) for k, v in s.others.items()}} for s in self.standards],
                "insured_grades": list(self.insured_grades), "insurance_schemes": sorted(self.schemes),
                "assistance": {"eligible_categories": list(self.assistance_categories),
                               "terms": [{"effective_from": t["effective_from"], "ratio": str(t["ratio"]),
                                          "yearly_cap": str(t["yearly_cap"])} for t in self.assistance_terms]},
                "worker_benefits": {k: {"until_placed": e["until_placed"],
                                        "caps": [{"effective_from": s, "monthly_cap": str(c)}
                                                 for s, c in e["caps"]]}
                                    for k, e in sorted(self.worker_benefits.items())},
                "channels": list(self.channels), "venues": list(self.venues),
                "audiences": list(self.audiences),
                "model_district": {"title": self.model_title, "requires": [dict(r) for r in self.model_requires]}}

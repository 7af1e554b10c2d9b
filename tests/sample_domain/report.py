"""The test domain's report section (the one interface of shared/report_kit.py): volunteers and
hours per area, and the hours per volunteer against its target."""
from __future__ import annotations

from shared.report_kit import Context, Families, count, fetch, ratio

RELATIONS = ("vol_volunteers", "vol_area_hours")
HOURS_TARGET = "volunteer_hours_per_volunteer"
TARGETS = (HOURS_TARGET,)
METRICS = {
    "volunteering_volunteers": ("Volunteers registered in the area", ("area",)),
    "volunteering_hours": ("Hours given by the area's volunteers", ("area",)),
    "volunteering_hours_per_volunteer": ("Hours given per registered volunteer, district", ()),
}


def read(curs, ctx: Context) -> list[dict]:
    return fetch(curs, ctx.schema, "SELECT area, volunteers, hours FROM {s}.vol_area_hours")


def build(rows: list[dict] | None, ctx: Context, missing: list[str]) -> dict:
    rows = rows or []
    areas = {r["area"]: {"volunteers": count(r["volunteers"], "persons"),
                         "hours": count(r["hours"], "hours")} for r in rows}
    volunteers = sum(int(r["volunteers"]) for r in rows)
    hours = sum(int(r["hours"]) for r in rows)
    return {"initialised": not missing, "missing": missing, "areas": areas,
            "district": {"volunteers": count(volunteers, "persons"), "hours": count(hours, "hours"),
                         "hours_per_volunteer": ctx.targets.measure(
                             HOURS_TARGET, ratio(hours, volunteers), unit="hours")}}


def families(section: dict | None, ctx: Context):
    if section is None:
        return []
    out = Families(METRICS)
    for area, figures in section["areas"].items():
        out.fill({"volunteering_volunteers": "volunteers", "volunteering_hours": "hours"},
                 figures, area=area)
    out.fill({"volunteering_hours_per_volunteer": "hours_per_volunteer"}, section["district"])
    return out.collect()

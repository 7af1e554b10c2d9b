"""Application layer of reporting: the report dict as Prometheus metric families.

`DibaoCollector` is a prometheus_client custom collector: on every scrape it asks its `source`
for a fresh report (see `report.py`) and renders it. Conventions (docs/reporting.md):
- every metric is a gauge: counts can go down (cases end), ratios and money are levels;
- money is in yuan, the platform's base currency unit, suffix `_yuan`; ratios 0..1, `_ratio`;
- per-area metrics carry `area` (the reference-data code); district-wide ratios are separate
  `dibao_district_*` metrics so that `sum()` over `area` never double counts;
- metrics measured for a year (year-end month, relief, donations) carry `year`; payment months
  carry it in `month` ('2007-01' .. '2007-12', '2007-YE'); targets are label-less (or `scheme`)
  and belong to the year in `dibao_report_info{year}`.
If the read model cannot be reached, only `reporting_read_model_up 0` and the info are exposed.
No Nameko here.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def _num(value) -> float:
    return float(value)


class _Families:
    """Gauge families created on first use, yielded in creation order."""

    def __init__(self):
        self.families: dict[str, GaugeMetricFamily] = {}

    def gauge(self, name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
        if name not in self.families:
            self.families[name] = GaugeMetricFamily(name, documentation, labels=labels)
        return self.families[name]

    def add(self, name: str, documentation: str, labels: dict[str, str], value) -> None:
        if value is None:
            return
        self.gauge(name, documentation, list(labels)).add_metric(list(labels.values()), _num(value))


# name -> help text; `describe()` and docs/reporting.md list the same names.
HELP = {
    "dibao_active_cases": "Dibao cases in force (status active) now",
    "dibao_pending_cases": "Dibao applications not yet decided (applied or verified)",
    "dibao_suspended_cases": "Dibao cases suspended after a review",
    "dibao_monthly_allowance_yuan": "Sum of the monthly allowances of the active cases, yuan",
    "dibao_persons_covered": "Persons in active dibao cases, by scheme",
    "dibao_population": "Population a scheme's coverage is measured against (reference data: "
                        "<scheme>_population of the area)",
    "dibao_coverage_ratio": "Persons covered by the scheme / the area's population of that "
                            "registration (only areas where that population > 0)",
    "dibao_coverage_target_ratio": "The year's target for dibao coverage of a scheme (targets file)",
    "dibao_coverage_target_met": "1 if the area's coverage of the scheme meets the year's target, else 0",
    "dibao_district_coverage_ratio": "District-wide dibao coverage: persons covered / population, "
                                     "summed over all areas",
    "dibao_district_coverage_target_met": "1 if the district-wide coverage meets the year's target, else 0",
    "dibao_payments_yuan": "Allowances paid for a month (kind monthly) or the year-end extra month "
                           "(kind year_end_extra, month YYYY-YE), back pay excluded, yuan",
    "dibao_back_pay_yuan": "Back pay for earlier months paid with a month's payment run, yuan",
    "dibao_paid_cases": "Cases paid for a month (kind monthly) or the year-end extra month",
    "dibao_year_end_extra_paid_cases": "Active cases paid the year's extra month (month key YYYY-YE)",
    "dibao_year_end_extra_ratio": "Active cases paid the year's extra month / active cases",
    "dibao_year_end_extra_target_ratio": "The year's target for the year-end extra-month completion",
    "dibao_year_end_extra_target_met": "1 if the area's year-end completion meets the target, else 0",
    "dibao_district_year_end_extra_ratio": "District-wide year-end extra-month completion",
    "dibao_district_year_end_extra_target_met": "1 if the district-wide year-end completion meets "
                                                "the target, else 0",
    "dibao_marginal_households": "Marginal (just above the line) households registered now",
    "dibao_marginal_relieved_households": "Registered marginal households paid the year's relief",
    "dibao_marginal_relief_ratio": "Registered marginal households paid the year's relief / "
                                   "registered marginal households",
    "dibao_marginal_relief_target_ratio": "The year's target for the marginal relief completion",
    "dibao_marginal_relief_target_met": "1 if the area's marginal relief completion meets the "
                                        "target, else 0",
    "dibao_district_marginal_relief_ratio": "District-wide marginal relief completion",
    "dibao_district_marginal_relief_target_met": "1 if the district-wide marginal relief completion "
                                                 "meets the target, else 0",
    "dibao_marginal_relief_yuan": "Year-end relief paid to marginal households in the year, yuan",
    "charity_donations_yuan": "One-day donation drive: donations received in the year, yuan",
    "charity_donations": "One-day donation drive: donations received in the year",
    "reporting_read_model_up": "1 if the read model database answered this scrape, else 0",
    "reporting_read_model_initialised": "1 if the projection has created the read model tables, "
                                        "else 0 (all dibao metrics are then zero)",
    "reporting_targets_found": "1 if a targets file exists for the report year, else 0",
}
INFO_NAME, INFO_HELP = "dibao_report", "The report year, and the versions of its targets and reference data"
INFO_LABELS = ("year", "targets_version", "reference_version")

_A, _AS, _AY, _AMK = ("area",), ("area", "scheme"), ("area", "year"), ("area", "month", "kind")
# name -> label names, in order; checked on every sample so docs, dashboard and exposition agree.
LABELS: dict[str, tuple[str, ...]] = {
    "dibao_active_cases": _A, "dibao_pending_cases": _A, "dibao_suspended_cases": _A,
    "dibao_monthly_allowance_yuan": _A,
    "dibao_persons_covered": _AS, "dibao_population": _AS, "dibao_coverage_ratio": _AS,
    "dibao_coverage_target_ratio": ("scheme",), "dibao_coverage_target_met": _AS,
    "dibao_district_coverage_ratio": ("scheme",), "dibao_district_coverage_target_met": ("scheme",),
    "dibao_payments_yuan": _AMK, "dibao_back_pay_yuan": _AMK, "dibao_paid_cases": _AMK,
    "dibao_year_end_extra_paid_cases": _AY, "dibao_year_end_extra_ratio": _AY,
    "dibao_year_end_extra_target_ratio": (), "dibao_year_end_extra_target_met": _AY,
    "dibao_district_year_end_extra_ratio": ("year",),
    "dibao_district_year_end_extra_target_met": ("year",),
    "dibao_marginal_households": _A, "dibao_marginal_relieved_households": _AY,
    "dibao_marginal_relief_ratio": _AY, "dibao_marginal_relief_target_ratio": (),
    "dibao_marginal_relief_target_met": _AY, "dibao_district_marginal_relief_ratio": ("year",),
    "dibao_district_marginal_relief_target_met": ("year",), "dibao_marginal_relief_yuan": _AY,
    "charity_donations_yuan": _AY, "charity_donations": _AY,
    "reporting_read_model_up": (), "reporting_read_model_initialised": (),
    "reporting_targets_found": (),
}


def families(report: dict) -> list[Metric]:
    """The report dict (report.build_report) as metric families."""
    out = _Families()

    def add(name, labels, value):
        if tuple(labels) != LABELS[name]:
            raise RuntimeError(f"{name}: labels {tuple(labels)} are not the declared {LABELS[name]}")
        out.add(name, HELP[name], labels, value)

    year = str(report["year"])
    add("reporting_read_model_up", {}, 1)
    add("reporting_read_model_initialised", {}, 1 if report["read_model"]["initialised"] else 0)
    add("reporting_targets_found", {}, 1 if report["targets"]["found"] else 0)
    schemes = report["schemes"]
    district = report["district"]["metrics"]
    for scheme in schemes:
        entry = district["coverage_ratio"][scheme]
        add("dibao_coverage_target_ratio", {"scheme": scheme}, entry["target"])
    add("dibao_year_end_extra_target_ratio", {}, district["year_end_extra_ratio"]["target"])
    add("dibao_marginal_relief_target_ratio", {}, district["marginal_relief_ratio"]["target"])

    for code, area in report["areas"].items():
        m = area["metrics"]
        a = {"area": code}
        ay = {"area": code, "year": year}
        add("dibao_active_cases", a, m["active_cases"]["value"])
        add("dibao_pending_cases", a, m["pending_cases"]["value"])
        add("dibao_suspended_cases", a, m["suspended_cases"]["value"])
        add("dibao_monthly_allowance_yuan", a, m["monthly_allowance_yuan"]["value"])
        for scheme in schemes:
            s = {"area": code, "scheme": scheme}
            cov = m["coverage_ratio"][scheme]
            add("dibao_persons_covered", s, m["persons_covered"]["by_scheme"][scheme])
            add("dibao_population", s, m["population"][scheme]["value"])
            add("dibao_coverage_ratio", s, cov["value"])
            add("dibao_coverage_target_met", s, _flag(cov["met"]))
        for row in m["payments_yuan"]["by_month"]:
            p = {"area": code, "month": row["month"], "kind": row["kind"]}
            add("dibao_payments_yuan", p, row["amount_yuan"])
            add("dibao_back_pay_yuan", p, row["back_pay_yuan"])
            add("dibao_paid_cases", p, row["payments"])
        ye = m["year_end_extra_ratio"]
        add("dibao_year_end_extra_paid_cases", ay, ye["paid_cases"])
        add("dibao_year_end_extra_ratio", ay, ye["value"])
        add("dibao_year_end_extra_target_met", ay, _flag(ye["met"]))
        relief = m["marginal_relief_ratio"]
        add("dibao_marginal_households", a, m["marginal_households"]["value"])
        add("dibao_marginal_relieved_households", ay, relief["relieved"])
        add("dibao_marginal_relief_ratio", ay, relief["value"])
        add("dibao_marginal_relief_target_met", ay, _flag(relief["met"]))
        add("dibao_marginal_relief_yuan", ay, m["marginal_relief_yuan"]["value"])
        add("charity_donations_yuan", ay, m["donations_yuan"]["value"])
        add("charity_donations", ay, m["donations_yuan"]["donations"])

    for scheme in schemes:
        cov = district["coverage_ratio"][scheme]
        add("dibao_district_coverage_ratio", {"scheme": scheme}, cov["value"])
        add("dibao_district_coverage_target_met", {"scheme": scheme}, _flag(cov["met"]))
    ye = district["year_end_extra_ratio"]
    add("dibao_district_year_end_extra_ratio", {"year": year}, ye["value"])
    add("dibao_district_year_end_extra_target_met", {"year": year}, _flag(ye["met"]))
    relief = district["marginal_relief_ratio"]
    add("dibao_district_marginal_relief_ratio", {"year": year}, relief["value"])
    add("dibao_district_marginal_relief_target_met", {"year": year}, _flag(relief["met"]))
    return [_info(report), *out.families.values()]


def _flag(met: bool | None) -> int | None:
    return None if met is None else int(met)


def _info(report: dict) -> InfoMetricFamily:
    info = InfoMetricFamily(INFO_NAME, INFO_HELP, labels=list(INFO_LABELS))
    info.add_metric([str(report["year"]), report["targets"]["version"] or "",
                     report["reference"]["version"] or ""], {})
    return info


def unavailable(year: int) -> list[Metric]:
    """What a scrape shows when the read model cannot be reached."""
    up = GaugeMetricFamily("reporting_read_model_up", HELP["reporting_read_model_up"], value=0)
    info = InfoMetricFamily(INFO_NAME, INFO_HELP, labels=list(INFO_LABELS))
    info.add_metric([str(year), "", ""], {})
    return [info, up]


class DibaoCollector(Collector):
    """Calls `source()` (→ report dict) on every scrape. A failing source yields `up 0`."""

    def __init__(self, source: Callable[[], dict], year: Callable[[], int]):
        self.source = source
        self.year = year

    def describe(self) -> list:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            report = self.source()
        except Exception as error:  # noqa: BLE001 — a scrape must still answer
            log.warning("reporting: the read model could not be read: %r", error)
            yield from unavailable(self.year())
            return
        yield from families(report)


def render(*registries: CollectorRegistry) -> bytes:
    """The text exposition of several registries, concatenated (their names must not clash)."""
    return b"".join(generate_latest(r) for r in registries)

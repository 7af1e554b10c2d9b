"""Unit tier: the welfare report section (services/welfare/report.py) from a snapshot of read-model
numbers, without a database: exact comparison with the targets, ratios without a denominator,
metric families with their declared labels, and every metric documented in docs/welfare.md."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from services.welfare.report import METRICS, AreaWelfare, Snapshot, Support, build, families
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets
from tests.welfare.welfare_support import welfare_targets

DOCS = Path(__file__).resolve().parents[2] / "docs" / "welfare.md"


def context(targets: dict | None) -> Context:
    return Context(2007, ReferenceData.load(), Targets(2007, targets))


def build_report(snap: Snapshot | None, targets: dict | None, missing=()) -> dict:
    return build(snap, context(targets), list(missing))


def snapshot() -> Snapshot:
    snap = Snapshot(year=2007)
    beigang = snap.areas["beigang"]                   # 9,200 aged 60+
    beigang.institutions, beigang.beds, beigang.residents = {"public": 1, "private": 1}, 156, 120
    beigang.workers, beigang.trained = 10, 8
    beigang.support["three_no"] = Support(persons=3, arranged=3, by_mode={"centralized": 1, "dispersed": 2},
                                          without_medical_care=1)
    xinzha = snap.areas["xinzha"]                     # 9,900 aged 60+: 17 per 1,000 is 168.3 beds
    xinzha.institutions, xinzha.beds = {"public": 1}, 168
    xinzha.support["five_guarantee"] = Support(persons=4, arranged=3, by_mode={"dispersed": 3})
    xinzha.enterprises, xinzha.restructuring_required, xinzha.restructured_on_time = 2, 2, 2
    xinzha.rebates, xinzha.rebates_amount = 2, Decimal("3000.50")
    xinzha.orders = [{"service": "housekeeping", "payment": "free", "status": "delivered",
                      "orders": 3, "amount": Decimal("0.00")}]
    return snap


@pytest.fixture(scope="module")
def report():
    return build_report(snapshot(), welfare_targets())


def test_beds_per_1000_aged_60_plus_are_compared_exactly(report):
    beigang = report["areas"]["beigang"]["metrics"]["beds_per_1000_aged_60_plus"]
    assert (beigang["value"], beigang["met"]) == (pytest.approx(156_000 / 9200), False)
    xinzha = report["areas"]["xinzha"]["metrics"]["beds_per_1000_aged_60_plus"]
    assert xinzha["met"] is False                        # 168 beds: 16.97 per 1,000
    exact = Snapshot(year=2007)
    exact.areas["beigang"].beds = 9200 * 17 // 1000 + 1  # 157 beds: 17.07
    assert build_report(exact, welfare_targets())[
        "areas"]["beigang"]["metrics"]["beds_per_1000_aged_60_plus"]["met"] is True


def test_ratios_without_a_denominator_have_no_value(report):
    nandajie = report["areas"]["nandajie"]["metrics"]
    assert nandajie["training_ratio"]["value"] is None and nandajie["training_ratio"]["met"] is None
    assert nandajie["occupancy_ratio"]["value"] is None
    assert report["areas"]["beigang"]["metrics"]["special_support"]["five_guarantee"]["value"] is None


def test_district_sums_the_areas(report):
    district = report["district"]["metrics"]
    assert district["beds"]["value"] == 324
    assert district["special_support"]["five_guarantee"]["value"] == 0.75
    assert district["special_support"]["three_no"]["met"] is True
    assert district["enterprises_restructured_ratio"]["met"] is True
    assert district["tax_rebates_yuan"]["value"] == "3000.50"


def test_families_carry_the_declared_labels_and_skip_values_that_do_not_exist(report):
    found = {f.name: f for f in families(report, context(welfare_targets()))}
    for name, family in found.items():
        for sample in family.samples:
            assert tuple(sample.labels) == METRICS[name][1], name
    ratio = {s.labels["area"] for s in found["welfare_care_worker_training_ratio"].samples}
    assert ratio == {"beigang"}
    assert found["welfare_elderly_care_beds_per_1000_aged_60_plus_target"].samples[0].value == 17
    orders = found["welfare_home_care_orders"].samples
    assert [(s.labels["area"], s.labels["payment"], s.value) for s in orders] == [("xinzha", "free", 3)]


def test_without_targets_no_target_samples():
    plain = build_report(snapshot(), None)
    names = {f.name for f in families(plain, context(None))}
    assert not any(name.endswith(("_target", "_target_ratio", "_target_met")) for name in names)
    assert plain["district"]["metrics"]["training_ratio"]["met"] is None


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"| `{name}` |" in docs, f"{name} is not in docs/welfare.md"


def test_an_uninitialised_snapshot_reports_zeros():
    empty = build_report(None, None, missing=["wf_institutions"])
    assert empty["read_model"] == {"initialised": False, "missing": ["wf_institutions"]}
    found = {f.name: f for f in families(empty, context(None))}
    assert found["welfare_read_model_initialised"].samples[0].value == 0
    assert AreaWelfare().beds == 0

"""Unit tier: the social affairs report section (services/social_affairs/report.py) from query rows,
without a database: targets compared exactly, ratios without a denominator, metric families with
their declared labels, and every metric documented in docs/social_affairs.md."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.social_affairs.report import METRICS, QUERIES, build, families
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets
from tests.social_affairs.sa_support import targets

DOCS = Path(__file__).resolve().parents[2] / "docs" / "social_affairs.md"


def context(document: dict | None, year: int = 2007) -> Context:
    return Context(year, ReferenceData.load(), Targets(year, document))


def hall(code, area, urns=0, moved=0, prepared=None, on_time=None, open_findings=0, inspected=None):
    return {"code": code, "name": code, "area": area, "kind": "memorial_hall", "niches": 100, "urns": urns,
            "migrated_out": moved, "migrated_in": 0, "prepared_on": prepared, "preparation_on_time": on_time,
            "open_findings": open_findings, "last_inspected_on": inspected, "last_passed": None}


def rows() -> dict:
    return {name: [] for name in QUERIES} | {
        "halls": [hall("yonghong_hall", "yonghong", urns=120, prepared="2007-12-20", on_time=True),
                  hall("xilin_hall", "xilin", urns=80, prepared="2008-01-05", on_time=False),
                  hall("xinzha_hall", "xinzha", urns=300, inspected="2007-05-01"),
                  hall("beigang_hall", "beigang", urns=200, open_findings=1, inspected="2007-06-01")],
        "inspections": [{"code": "xinzha_hall", "inspections": 2, "passed": 1},
                        {"code": "beigang_hall", "inspections": 1, "passed": 0}],
        "mounds": [{"area": "xinzha", "year": 2007, "new": 0, "rebuilt": 0, "unresolved": 0, "resolved": 0},
                   {"area": "xinzha", "year": 2006, "new": 3, "rebuilt": 0, "unresolved": 1, "resolved": 2},
                   {"area": "xilin", "year": 2008, "new": 1, "rebuilt": 0, "unresolved": 1, "resolved": 0}],
        "marriages": [{"area": "beigang", "registrations": 400, "found_unlawful": 0, "qualified": 400},
                      {"area": "xilin", "registrations": 300, "found_unlawful": 1, "qualified": 299}],
        "refusals": [{"area": "xilin", "rule": "affairs.below_legal_age", "refusals": 2}],
        "divorces": [{"area": "beigang", "registered": 5, "after_cooling_off": 0}],
    }


@pytest.fixture(scope="module")
def report():
    return build(rows(), context(targets()), [])


def test_the_migration_preparation_counts_only_halls_prepared_by_the_deadline(report):
    district = report["district"]["metrics"]
    assert district["migration_preparation_ratio"]["value"] == 0.5
    assert district["migration_preparation_ratio"]["met"] is False
    assert report["halls"]["yonghong_hall"]["migration_progress_ratio"]["value"] == 0.0
    assert district["urns_to_migrate"]["value"] == 200


def test_a_year_is_clean_of_mounds_only_with_none_new_rebuilt_or_left_unresolved(report):
    district = report["district"]["metrics"]
    assert (district["new_grave_mounds"]["value"], district["new_grave_mounds"]["met"]) == (0, True)
    assert (district["unresolved_grave_mounds"]["value"], district["unresolved_grave_mounds"]["met"]) == (1, False)
    assert report["areas"]["xilin"]["metrics"]["unresolved_grave_mounds"]["value"] == 0   # found in 2008


def test_one_unlawful_registration_in_700_misses_the_100_percent_target(report):
    rate = report["district"]["metrics"]["marriage_qualification_ratio"]
    assert (rate["qualified"], rate["registrations"], rate["met"]) == (699, 700, False)
    assert report["areas"]["beigang"]["metrics"]["marriage_qualification_ratio"]["met"] is True
    assert report["areas"]["nandajie"]["metrics"]["marriage_qualification_ratio"]["value"] is None


def test_halls_to_standard_are_those_inspected_with_nothing_open(report):
    measured = report["district"]["metrics"]["halls_to_standard_ratio"]
    assert (measured["to_standard"], measured["inspected"], measured["met"]) == (1, 2, False)


def test_families_carry_the_declared_labels(report):
    found = {f.name: f for f in families(report, context(targets()))}
    for name, family in found.items():
        for sample in family.samples:
            assert tuple(sample.labels) == METRICS[name][1], name
    qualification = {s.labels["area"] for s in found["social_affairs_marriage_qualification_ratio"].samples}
    assert qualification == {"beigang", "xilin"}
    refusals = found["social_affairs_marriage_refusals"].samples
    assert [(s.labels["rule"], s.value) for s in refusals] == [("affairs.below_legal_age", 2)]
    met = {s.labels["kind"]: s.value for s in found["social_affairs_grave_mounds_target_met"].samples}
    assert met == {"new": 1, "rebuilt": 1, "unresolved": 0}


def test_without_targets_no_verdicts():
    plain = build(rows(), context(None), [])
    assert plain["district"]["metrics"]["marriage_qualification_ratio"]["met"] is None
    names = {f.name for f in families(plain, context(None))}
    assert not any(name.endswith("_target_met") for name in names)


def test_an_uninitialised_read_model_reports_zeros():
    empty = build(None, context(targets()), ["saf_halls"])
    assert empty["read_model"] == {"initialised": False, "missing": ["saf_halls"]}
    assert empty["halls"]["yonghong_hall"]["registered"] is False
    assert empty["district"]["metrics"]["migration_preparation_ratio"]["value"] == 0.0
    found = {f.name: f for f in families(empty, context(targets()))}
    assert found["social_affairs_read_model_initialised"].samples[0].value == 0


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"| `{name}` |" in docs, f"{name} is not in docs/social_affairs.md"


def test_the_targets_file_has_the_keys_of_the_section():
    from services.social_affairs.report import TARGETS
    from shared.referencedata import load_targets
    assert set(TARGETS) <= set(load_targets(2007)["targets"])

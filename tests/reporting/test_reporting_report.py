"""The social assistance (dibao) section of the report, computed from a real read model, checked
against hand-calculated numbers of the `scenario` (tests/reporting/conftest.py)."""
from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import psycopg
import pytest

from services.reporting.application import Reporting
from shared.errors import InvalidInput
from shared.referencedata import DATA_DIR
from shared.report_kit import NOT_INITIALISED

URBAN_POP = 62000 + 58000 + 71000 + 66000 + 45000 + 30000 + 18000   # every area's urban_population
RURAL_POP = 8000 + 12000 + 21000 + 36000                            # every area's rural_population


@pytest.fixture(scope="module")
def reporting(conninfo, scenario):
    return Reporting(lambda: psycopg.connect(conninfo), year=2007)


@pytest.fixture(scope="module")
def report(reporting):
    return reporting.report(2007)


def test_the_report_says_the_read_model_is_there(report):
    assert report["social_assistance"]["read_model"] == {"schema": "read_model", "initialised": True, "missing": []}
    assert report["social_assistance"]["note"] is None
    assert report["year"] == 2007
    assert report["targets"]["found"] and report["targets"]["version"] == "2007.1"
    assert report["social_assistance"]["schemes"] == ["rural", "urban"]
    assert report["social_assistance"]["district"]["code"] == "320404"
    assert set(report["social_assistance"]["areas"]) == {"nandajie", "hehuachi", "wuxing", "yonghong", "beigang",
                                    "xilin", "xinzha"}


def test_cases_and_persons_per_area(report):
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]
    assert beigang["active_cases"]["value"] == 4
    assert beigang["pending_cases"]["value"] == 1
    assert beigang["suspended_cases"]["value"] == 0
    assert beigang["persons_covered"]["by_scheme"] == {"urban": 6, "rural": 4}
    assert beigang["persons_covered"]["value"] == 10
    assert beigang["monthly_allowance_yuan"]["value"] == "430.00"   # 110 + 150 + 50 + 120
    xilin = report["social_assistance"]["areas"]["xilin"]["metrics"]
    assert xilin["active_cases"]["value"] == 1
    assert xilin["pending_cases"]["value"] == 1
    assert xilin["suspended_cases"]["value"] == 1
    assert xilin["persons_covered"]["by_scheme"] == {"urban": 3, "rural": 0}   # merged
    nandajie = report["social_assistance"]["areas"]["nandajie"]["metrics"]
    assert nandajie["active_cases"]["value"] == 0
    assert nandajie["persons_covered"]["by_scheme"] == {"urban": 0, "rural": 0}


def test_coverage_against_the_targets(report):
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]["coverage_ratio"]
    assert beigang["urban"]["value"] == pytest.approx(6 / 45000)
    assert beigang["urban"]["persons"] == 6 and beigang["urban"]["population"] == 45000
    assert beigang["urban"]["target"] == 0.012 and beigang["urban"]["op"] == ">="
    assert beigang["urban"]["met"] is False
    assert beigang["rural"]["value"] == pytest.approx(4 / 12000)
    assert beigang["rural"]["target"] == 0.02 and beigang["rural"]["met"] is False
    # no rural population: no ratio, no verdict, but the target is still shown
    nandajie_rural = report["social_assistance"]["areas"]["nandajie"]["metrics"]["coverage_ratio"]["rural"]
    assert nandajie_rural["value"] is None and nandajie_rural["met"] is None
    assert nandajie_rural["target"] == 0.02
    district = report["social_assistance"]["district"]["metrics"]
    assert district["persons_covered"]["by_scheme"] == {"urban": 9, "rural": 8}
    assert district["coverage_ratio"]["urban"]["value"] == pytest.approx(9 / URBAN_POP)
    assert district["coverage_ratio"]["urban"]["population"] == URBAN_POP
    assert district["coverage_ratio"]["rural"]["value"] == pytest.approx(8 / RURAL_POP)
    assert district["coverage_ratio"]["rural"]["met"] is False
    assert district["active_cases"]["value"] == 6


def test_payments_of_the_year_per_month_and_kind(report):
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]["payments_yuan"]
    assert beigang["by_month"] == [
        {"month": "2007-01", "kind": "monthly", "payments": 5, "amount_yuan": "620.00",
         "back_pay_yuan": "0.00"},
        {"month": "2007-02", "kind": "monthly", "payments": 1, "amount_yuan": "110.00",
         "back_pay_yuan": "10.00"},
        {"month": "2007-YE", "kind": "year_end_extra", "payments": 3, "amount_yuan": "2300.00",
         "back_pay_yuan": "0.00"},
    ]
    assert beigang["value"] == "3040.00"   # everything paid in 2007, back pay included
    district = report["social_assistance"]["district"]["metrics"]["payments_yuan"]
    assert district["by_month"][0] == {"month": "2007-01", "kind": "monthly", "payments": 6,
                                       "amount_yuan": "710.00", "back_pay_yuan": "0.00"}
    assert district["value"] == "3130.00"


def test_year_end_extra_month_completion(report):
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]["year_end_extra_ratio"]
    assert (beigang["paid_cases"], beigang["active_cases"]) == (3, 4)
    assert beigang["value"] == 0.75 and beigang["target"] == 1.0 and beigang["met"] is False
    xinzha = report["social_assistance"]["areas"]["xinzha"]["metrics"]["year_end_extra_ratio"]
    assert xinzha["value"] == 0.0 and xinzha["met"] is False
    nandajie = report["social_assistance"]["areas"]["nandajie"]["metrics"]["year_end_extra_ratio"]
    assert nandajie["value"] is None and nandajie["met"] is None     # no active cases
    district = report["social_assistance"]["district"]["metrics"]["year_end_extra_ratio"]
    assert (district["paid_cases"], district["active_cases"]) == (3, 6)
    assert district["value"] == 0.5 and district["met"] is False


def test_marginal_households_and_relief(report):
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]
    assert beigang["marginal_households"]["value"] == 2          # the third one left the band
    relief = beigang["marginal_relief_ratio"]
    assert (relief["relieved"], relief["registered"]) == (1, 2)
    assert relief["value"] == 0.5 and relief["target"] == 1.0 and relief["met"] is False
    assert beigang["marginal_relief_yuan"] == {"value": "400.00", "unit": "yuan", "target": None,
                                               "op": None, "met": None, "households": 2}
    assert report["social_assistance"]["district"]["metrics"]["marginal_relief_ratio"]["value"] == 0.5


def test_donations_per_area_and_year(report):
    assert report["social_assistance"]["areas"]["beigang"]["metrics"]["donations_yuan"]["value"] == "150.50"
    assert report["social_assistance"]["areas"]["beigang"]["metrics"]["donations_yuan"]["donations"] == 2
    assert report["social_assistance"]["areas"]["xinzha"]["metrics"]["donations_yuan"]["value"] == "1000.00"
    assert report["social_assistance"]["district"]["metrics"]["donations_yuan"]["value"] == "1150.50"


def test_another_year_has_its_own_payments_relief_and_donations(reporting):
    report = reporting.report("2006")
    assert report["year"] == 2006
    assert report["targets"]["found"] is False
    assert report["targets"]["note"] == "no targets file data/targets/2006.json"
    district = report["social_assistance"]["district"]["metrics"]
    assert district["payments_yuan"]["value"] == "100.00"
    assert district["donations_yuan"]["value"] == "30.00"
    assert district["marginal_relief_ratio"]["relieved"] == 1      # m2, still registered
    assert district["coverage_ratio"]["urban"]["target"] is None
    assert district["coverage_ratio"]["urban"]["met"] is None
    assert district["active_cases"]["value"] == 6                  # state now, whatever the year


def test_the_default_year_and_bad_years(reporting):
    assert reporting.report()["year"] == 2007
    for bad, code in [("abc", "report.year_not_number"), ("07x", "report.year_not_number"),
                      ("20070", "report.year_out_of_range"), (-1, "report.year_out_of_range")]:
        with pytest.raises(InvalidInput) as caught:
            reporting.report(bad)
        assert (caught.value.field, caught.value.code) == ("year", code)


def test_the_report_is_json(report):
    assert json.loads(json.dumps(report, ensure_ascii=False)) == report


def test_a_target_is_met_exactly_at_the_boundary(conninfo, scenario, tmp_path):
    """Tiny populations from a reference-data directory of the test's own: 6 urban persons in
    beigang against 500 → 0.012, exactly the target (>=), compared without float error."""
    shutil.copytree(Path(DATA_DIR) / "targets", tmp_path / "targets")
    shutil.copy(Path(DATA_DIR) / "standards.json", tmp_path / "standards.json")
    areas = json.loads((Path(DATA_DIR) / "areas.json").read_text(encoding="utf-8"))
    for area in areas["areas"]:
        if area["code"] == "beigang":
            area["urban_population"], area["rural_population"] = 500, 200
    (tmp_path / "areas.json").write_text(json.dumps(areas), encoding="utf-8")
    report = Reporting(lambda: psycopg.connect(conninfo), reference_dir=tmp_path).report(2007)
    coverage = report["social_assistance"]["areas"]["beigang"]["metrics"]["coverage_ratio"]
    assert Fraction(6, 500) == Fraction("0.012") and coverage["urban"]["met"] is True
    assert coverage["rural"]["value"] == 0.02 and coverage["rural"]["met"] is True


def test_an_uninitialised_read_model_reports_zeros(conninfo):
    report = Reporting(lambda: psycopg.connect(conninfo), schema="read_model_not_created").report()
    assert report["social_assistance"]["read_model"]["initialised"] is False
    assert report["social_assistance"]["read_model"]["missing"][:2] == ["cases", "area_totals"]
    assert report["social_assistance"]["note"] == NOT_INITIALISED == "read model not initialised; start the projection"
    district = report["social_assistance"]["district"]["metrics"]
    assert district["active_cases"]["value"] == 0
    assert district["persons_covered"]["value"] == 0
    assert district["coverage_ratio"]["urban"]["value"] == 0.0
    assert district["coverage_ratio"]["urban"]["met"] is False
    assert district["payments_yuan"]["value"] == "0.00"
    assert district["year_end_extra_ratio"]["value"] is None
    assert set(report["social_assistance"]["areas"]) == {"nandajie", "hehuachi", "wuxing", "yonghong", "beigang",
                                    "xilin", "xinzha"}

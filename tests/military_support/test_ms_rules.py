"""Unit tier: the reference data of military support (services/military_support/reference/),
effective-dated and checked at load time."""
from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from services.military_support.rules import REFERENCE_DIR, MilitaryRules, RulesError
from shared.errors import Conflict, InvalidInput


@pytest.fixture(scope="module")
def rules():
    return MilitaryRules.load()


def test_standards_are_effective_dated(rules):
    assert rules.standard_in("2007-07").effective_from == "2006-10-01"
    assert rules.standard_in("2007-08").effective_from == "2007-08-01"
    assert rules.standard_in("2007-07").monthly("disabled_serviceman", 10, "war") == Decimal("250.00")
    assert rules.standard_in("2007-12").monthly("demobilised_veteran", None, None) == Decimal("352.00")
    with pytest.raises(Conflict) as caught:
        rules.standard_in("2006-09")
    assert caught.value.code == "military.no_standard_in_force"


def test_illness_is_rated_for_grades_1_to_6_only(rules):
    assert rules.standard_in("2007-01").rated()["illness"] == (1, 2, 3, 4, 5, 6)
    assert rules.standard_in("2007-01").rated()["war"] == tuple(range(1, 11))


def test_the_eight_channels_of_the_plan(rules):
    assert list(rules.channels) == ["window", "policy", "technology", "legal", "culture",
                                    "functional", "socialized", "information"]
    assert rules.channels["window"]["name"] == "窗口拥军"
    with pytest.raises(InvalidInput) as caught:
        rules.check_channel("sports")
    assert (caught.value.field, caught.value.code) == ("channel", "military.unknown_channel")


def test_assistance_terms_and_worker_caps_change_by_date(rules):
    assert rules.assistance_on("2007-06-30")["ratio"] == Decimal("0.50")
    assert rules.assistance_on("2007-07-01")["yearly_cap"] == Decimal("5000.00")
    with pytest.raises(Conflict) as caught:
        rules.assistance_on("2006-12-31")
    assert caught.value.code == "military.no_assistance_terms"
    assert rules.worker_benefit("living_allowance", "2007-06") == (Decimal("800.00"), True)
    assert rules.worker_benefit("living_allowance", "2007-07") == (Decimal("900.00"), True)
    with pytest.raises(Conflict) as caught:
        rules.worker_benefit("living_allowance", "2005-12")
    assert caught.value.code == "military.no_worker_cap_in_force"
    assert rules.requirements_on("2007-12-31")["every_channel"] is True
    with pytest.raises(Conflict) as caught:
        rules.requirements_on("2006-12-31")
    assert caught.value.code == "military.no_requirements_in_force"


def _copy(tmp_path: Path, name: str, change) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    document = json.loads((folder / name).read_text(encoding="utf-8"))
    change(document)
    (folder / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name,change,message", [
    ("benefits.json", lambda d: d["standards"][0].update(effective_from="2006-10-15"), "first day"),
    ("benefits.json", lambda d: d["standards"][0]["disabled_serviceman"]["war"].update({"11": "1.00"}),
     "grade 1-10"),
    ("benefits.json", lambda d: d["standards"][0].update(martyr_family="-1"), "amount"),
    ("benefits.json", lambda d: d["standards"].append(dict(d["standards"][0])), "once"),
    ("medical.json", lambda d: d.update(insured_grades={"from": 6, "to": 1}), "insured_grades"),
    ("medical.json", lambda d: d["assistance"]["terms"][0].update(reimbursement_ratio="1.5"), "ratio"),
    ("double_support.json", lambda d: d["channels"].pop("legal"), "eight channels"),
])
def test_a_malformed_file_fails_at_load_naming_it(tmp_path, name, change, message):
    with pytest.raises(RulesError, match=message):
        MilitaryRules.load(_copy(tmp_path, name, change))

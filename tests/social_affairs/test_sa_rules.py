"""Unit tier: the social affairs reference data (services/social_affairs/reference/) as effective-dated
rules, and the pure rules of the domain (the legal conditions of marriage, sex and age from the
identity number)."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from services.social_affairs.domain import LegalAge, age_on, marriage_refusal, sex_of
from services.social_affairs.rules import REFERENCE_DIR, AffairsRules, RulesError
from shared.errors import Conflict
from tests.social_affairs.sa_support import number


@pytest.fixture
def folder(tmp_path) -> Path:
    copy = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, copy)
    return copy


def edit(folder: Path, name: str, change) -> None:
    path = folder / name
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def test_the_rule_in_force_is_the_latest_entry_on_or_before_the_day():
    rules = AffairsRules.load()
    assert rules.cooling_off_for("2020-12-31").days == 0
    assert rules.cooling_off_for("2021-01-01").days == 30
    assert rules.legal_age_on("2007-05-01") == LegalAge(22, 20, "1981-01-01")
    with pytest.raises(Conflict) as caught:
        rules.legal_age_on("1980-12-31")
    assert (caught.value.field, caught.value.code) == ("registered_on", "affairs.no_rule_in_force")


def test_a_change_of_the_rules_is_a_new_entry_of_the_file_not_code(folder):
    edit(folder, "marriage.json", lambda d: d["legal_age"].append(
        {"effective_from": "2030-01-01", "men": 20, "women": 20}))
    rules = AffairsRules.load(folder)
    assert rules.legal_age_on("2029-12-31").men == 22 and rules.legal_age_on("2030-01-01").men == 20


@pytest.mark.parametrize("name, change, message", [
    ("marriage.json", lambda d: d.update(legal_age=[]), "legal_age: must list"),
    ("marriage.json", lambda d: d["legal_age"][0].update(effective_from="1981-13-01"), "effective_from"),
    ("marriage.json", lambda d: d["divorce_cooling_off"][1].update(days=-1), "days"),
    ("marriage.json", lambda d: d["divorce_cooling_off"][1].update(effective_from="1981-01-01"), "same day"),
    ("funeral.json", lambda d: d["migration"].update(destination="xilin_hall"), "destination"),
    ("funeral.json", lambda d: d["migration"].update(moves_until="2007-01-01"), "moves_until"),
    ("funeral.json", lambda d: d["management_standard"][0].update(items={}), "items"),
])
def test_a_malformed_file_fails_at_load_naming_the_entry(folder, name, change, message):
    edit(folder, name, change)
    with pytest.raises(RulesError) as caught:
        AffairsRules.load(folder)
    assert message in str(caught.value)


def test_sex_and_age_come_from_the_identity_number():
    man, woman = number("1985-05-20", "M"), number("1987-05-20", "F")
    assert (sex_of(man), sex_of(woman)) == ("M", "F")
    assert age_on(date(1985, 5, 20), date(2007, 5, 19)) == 21
    assert age_on(date(1985, 5, 20), date(2007, 5, 20)) == 22
    assert age_on(date(1988, 2, 29), date(2008, 2, 28)) == 19


def person(sex="M", age=30, present=True, unmarried=True) -> dict:
    return {"sex": sex, "age": age, "present": present, "declared_unmarried": unmarried}


AGES = LegalAge(22, 20, "1981-01-01")


@pytest.mark.parametrize("parties, kin, married, code", [
    ([person(), person("F")], True, [False, False], None),
    ([person(age=22), person("F", 20)], True, [False, False], None),
    ([person(age=21), person("F", 20)], True, [False, False], "affairs.below_legal_age"),
    ([person(age=22), person("F", 19)], True, [False, False], "affairs.below_legal_age"),
    ([person(present=False), person("F")], True, [False, False], "affairs.party_not_present"),
    ([person(), person()], True, [False, False], "affairs.parties_not_man_and_woman"),
    ([person(), person("F")], True, [False, True], "affairs.already_married"),
    ([person(), person("F", unmarried=False)], True, [False, False], "affairs.unmarried_not_declared"),
    ([person(), person("F")], False, [False, False], "affairs.prohibited_kinship_not_declared"),
])
def test_the_legal_conditions_of_marriage(parties, kin, married, code):
    refusal = marriage_refusal(parties, kin, married, AGES)
    assert (refusal.code if refusal else None) == code

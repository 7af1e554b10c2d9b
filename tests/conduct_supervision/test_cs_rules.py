"""Unit tier: the reference data of conduct supervision (services/conduct_supervision/reference/),
effective-dated and checked at load time; and the roster's own rule."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.conduct_supervision.domain import Roster
from services.conduct_supervision.rules import REFERENCE_DIR, ConductRules, RulesError
from shared.errors import Conflict, InvalidInput


@pytest.fixture(scope="module")
def rules():
    return ConductRules.load()


def test_handling_times_and_terms_are_effective_dated(rules):
    assert rules.handling_on("2007-06-30")["complaint_days"] == 15
    assert rules.handling_on("2007-07-01")["complaint_days"] == 10
    assert rules.max_term_years("2007-06-30") == 3 and rules.max_term_years("2007-07-01") == 2
    with pytest.raises(Conflict) as caught:
        rules.handling_on("2005-12-31")
    assert (caught.value.field, caught.value.code) == ("received_on", "conduct.no_rule_in_force")


def test_the_overall_grade_follows_the_rule_of_the_years_end(rules):
    four = dict.fromkeys(("integrity", "ability", "diligence", "results"), "excellent")
    assert rules.overall(four, 2007) == ("excellent", True, "2007-12-31")
    mixed = dict(four, ability="competent", diligence="competent")       # 2006: 3.5; 2007: 3.6
    assert rules.overall(mixed, 2006)[0] == "competent" and rules.overall(mixed, 2007)[0] == "competent"
    nearly = dict(four, ability="competent")                               # 2006: 3.75; 2007: 3.8
    assert rules.overall(nearly, 2006)[:2] == ("excellent", True)
    assert rules.overall(dict(four, results="incompetent"), 2007)[0] == "incompetent"   # the veto
    with pytest.raises(Conflict):
        rules.overall(four, 2005)


def test_the_eight_prohibitions_windows_and_communities(rules):
    assert len(rules.prohibitions) == 8
    assert rules.window("dibao_window")["area"] == "nandajie"
    assert rules.community("xilin_yangjia")["kind"] == "village"
    with pytest.raises(InvalidInput) as caught:
        rules.check_prohibition("p9")
    assert caught.value.code == "conduct.unknown_prohibition"
    assert rules.measures_below("2007-04-01") == 80 and rules.scale_on("2007-01-01") == (0, 100)


def test_the_roster_assigns_only_serving_officers():
    roster = Roster()
    with pytest.raises(Conflict) as caught:
        roster.assign("xilin_xilin", "xilin", "officer-li", "2007-02-01")
    assert (caught.value.field, caught.value.code) == ("officer_id", "conduct.officer_not_serving")
    roster.add_officer("officer-li", "2007-01-01")
    roster.assign("xilin_xilin", "xilin", "officer-li", "2007-02-01")
    assert roster.of_officer("officer-li") == ["xilin_xilin"]


def _copy(tmp_path: Path, name: str, change) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    document = json.loads((folder / name).read_text(encoding="utf-8"))
    change(document)
    (folder / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name,change,message", [
    ("prohibitions.json", lambda d: d["prohibitions"].pop("p1_gifts"), "eight prohibitions"),
    ("complaints.json", lambda d: d["handling"][0].update(complaint_days=0), "complaint_days"),
    ("complaints.json", lambda d: d["handling"].append(dict(d["handling"][0])), "same day"),
    ("supervisors.json", lambda d: d["terms"][0].update(effective_from="2007-13-01"), "effective_from"),
    ("assessment.json", lambda d: d["rules"][0]["weights"].update(integrity="0.5"), "summing to 1"),
    ("assessment.json", lambda d: d["rules"][0]["overall"][-1].update(min_points="1"), "min_points 0"),
    ("assessment.json", lambda d: d.update(dimensions={"integrity": "德"}), "dimensions"),
    ("windows.json", lambda d: d["windows"]["dibao_window"].update(methods=["phone_poll"]), "methods"),
    ("communities.json", lambda d: d["communities"]["xilin"].append({"code": "xilin_xilin", "kind": "community"}),
     "unique code"),
    ("reviews.json", lambda d: d["scales"][0].update(max=0), "min < max"),
])
def test_a_malformed_file_fails_at_load_naming_it(tmp_path, name, change, message):
    with pytest.raises(RulesError, match=message):
        ConductRules.load(_copy(tmp_path, name, change))

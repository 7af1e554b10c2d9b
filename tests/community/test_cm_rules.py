"""Unit tier: the reference data of community building (services/community/reference/),
effective-dated and checked at load time."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.community.rules import REFERENCE_DIR, CommunityRules, RulesError
from shared.errors import Conflict, InvalidInput


@pytest.fixture(scope="module")
def rules():
    return CommunityRules.load()


def test_the_plan_s_lists(rules):
    assert sorted(rules.star_levels) == [3, 4, 5]
    assert list(rules.meetings) == ["consultation", "coordination", "hearing", "review"]
    assert rules.meetings["hearing"]["name"] == "决策听证会"
    assert list(rules.channels) == ["open_recruitment", "secondment", "graduate"]
    assert {k: v["form"] for k, v in rules.kinds.items()} == {
        "social_group": "registration", "private_non_enterprise": "registration",
        "rural_association": "registration", "community_group": "filing"}
    with pytest.raises(InvalidInput) as caught:
        rules.check_channel("friends")
    assert (caught.value.field, caught.value.code) == ("channel", "community.unknown_channel")
    assert rules.check_channel("graduate") == "graduate"


def test_standards_limits_and_windows_are_dated(rules):
    assert rules.standard_m2("service_centre", "2007-01-01", "recorded_on") == 2000
    assert rules.standard_m2("committee_office", "2008-12-31", "recorded_on") == 300
    with pytest.raises(Conflict) as caught:
        rules.standard_m2("service_centre", "2006-12-31", "recorded_on")
    assert (caught.value.field, caught.value.code) == ("recorded_on", "community.no_standard_in_force")
    assert rules.designation_limit("brand", "2007-06-01") == 2
    with pytest.raises(Conflict) as caught:
        rules.designation_limit("digital", "2006-06-01")
    assert caught.value.code == "community.no_limit_in_force"
    assert rules.election_window("2007-03-01") == ("2007-07-01", "2007-12-31")
    assert rules.election_window("2006-09-01") is None


def test_the_named_projects_of_2007(rules):
    assert len(rules.named_projects) == 9
    assert rules.named_code("beigang", "service_centre", "北港街道社区服务中心") == "beigang_centre"
    assert rules.named_code("xilin", "service_centre", " 西林街道社区服务中心 ") == "xilin_centre"
    assert rules.named_code("beigang", "committee_office", "北港街道社区服务中心") is None


def _copy(tmp_path: Path, name: str, change) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    document = json.loads((folder / name).read_text(encoding="utf-8"))
    change(document)
    (folder / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name,change,message", [
    ("communities.json", lambda d: d["star_levels"].update({"6": {"name": "六星"}}), "star_levels"),
    ("communities.json", lambda d: d["meetings"].pop("review"), "meetings"),
    ("communities.json", lambda d: d["designations"]["brand"]["limits"][0].update(per_area_per_year=0), ">= 1"),
    ("communities.json", lambda d: d["designations"]["brand"]["limits"].append(
        dict(d["designations"]["brand"]["limits"][0])), "each once"),
    ("organisations.json", lambda d: d["kinds"]["social_group"].update(form="approval"), "form"),
    ("villages.json", lambda d: d["election_windows"][0].update(to="2007-06-01"), "from <= to"),
    ("facilities.json", lambda d: d["standards"][0].update(service_centre=0), "standards"),
    ("facilities.json", lambda d: d["named_projects"].append(dict(d["named_projects"][0])), "unique code"),
    ("workers.json", lambda d: d["channels"].pop("graduate"), "channels"),
    ("workers.json", lambda d: None, None),
])
def test_a_malformed_file_fails_at_load_naming_it(tmp_path, name, change, message):
    if message is None:                                   # an unchanged copy loads
        assert CommunityRules.load(_copy(tmp_path, name, change)).channels
        return
    with pytest.raises(RulesError, match=message):
        CommunityRules.load(_copy(tmp_path, name, change))

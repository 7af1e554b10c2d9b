"""Unit tier: the rules of disaster relief are data (data/disaster_relief/): changing a file
changes the behaviour, and a malformed file is refused at load, naming the file and the entry."""
import json
import shutil
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher

from services.disaster_relief.application import DisasterRelief
from services.disaster_relief.rules import ReliefRules, RulesError
from services.disaster_relief.rules import REFERENCE_DIR as DATA_DIR
from tests.disaster_relief.dr_support import NOW, figures


@pytest.fixture
def data(tmp_path) -> Path:
    shutil.copytree(DATA_DIR, tmp_path / "data")
    return tmp_path / "data"


def edit(data: Path, name: str, change) -> None:
    path = data / name
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def app_with(data: Path) -> DisasterRelief:
    return DisasterRelief({"PERSISTENCE_MODULE": "eventsourcing.popo", "CIPHER_KEY": AESCipher.create_key(32)},
                          rules=ReliefRules.load(directory=data), now=lambda: NOW)


def test_the_2007_files_load():
    rules = ReliefRules.load()
    assert [level["level"] for level in rules.grading.levels] == ["I", "II", "III", "IV"]
    assert str(rules.floor) == "20000.00"
    assert rules.deadlines.stages == {"initial": {"within_hours": 2}, "follow_up": {},
                                      "final": {"within_working_days": 3}}
    assert rules.versions["response_levels"] == "2007-01"


def test_thresholds_and_the_floor_come_from_the_files(data):
    edit(data, "response_levels.json", lambda d: d["levels"][3]["thresholds"].update(relocated=100))
    edit(data, "reserve.json", lambda d: d.update(floor_yuan="30000.00"))
    app = app_with(data)
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    assert app.report(incident, "initial", figures(relocated=150), "2007-07-06T05:00", "officer-li")["level"] == "IV"
    assert app.deposit("xinzha", "25000.00", "镇财政", "officer-wang", "2007-01-15")["below_floor"] is True


def test_deadlines_and_working_days_come_from_the_file(data):
    def change(d):
        d["stages"]["initial"] = {"within_hours": 4}
        d["stages"]["follow_up"] = {"within_hours": 24}
        d["working_days"].append("saturday")
    edit(data, "deadlines.json", change)
    app = app_with(data)
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    assert app.get_incident(incident)["deadlines"] == {
        "initial": "2007-07-06T07:30:00+08:00", "follow_up": "2007-07-07T03:30:00+08:00",
        "final": "2007-07-10T23:59:59+08:00"}     # Saturday, Monday, Tuesday


@pytest.mark.parametrize("name, change, message", [
    ("response_levels.json", lambda d: d["levels"][0].update(responsibility="province"), "levels[0]: responsibility"),
    ("response_levels.json", lambda d: d["levels"][1]["thresholds"].update(injured=3), "levels[1]: thresholds"),
    ("response_levels.json", lambda d: d["levels"][2].update(level="3"), "levels[2]: level"),
    ("deadlines.json", lambda d: d.update(utc_offset="UTC+8"), "utc_offset"),
    ("deadlines.json", lambda d: d["stages"].update(interim={}), "stages.interim"),
    ("deadlines.json", lambda d: d["stages"]["final"].update(within_hours=2), "stages.final"),
    ("reserve.json", lambda d: d.update(floor_yuan="-1"), "floor_yuan"),
])
def test_a_malformed_file_is_refused_at_load(data, name, change, message):
    edit(data, name, change)
    with pytest.raises(RulesError) as caught:
        ReliefRules.load(directory=data)
    assert name in str(caught.value) and message in str(caught.value)

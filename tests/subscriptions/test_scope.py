"""Unit tests of the data scope (services/subscriptions/scope.py) on events as the feed serves them."""
from __future__ import annotations

import copy
import json

import pytest

from services.subscriptions.scope import scope_of, scoped
from shared import feed
from tests.support import drive_year, member, memory_app


@pytest.fixture(scope="module")
def stored():
    app = memory_app()
    app.register_household("beigang", "urban", [member("王芳", income="812.50"), member("李建国")],
                           address="鼓楼区中山路1号")
    drive_year(app, households=2)
    return feed.page(app, 0, 1000)["events"]


def _texts(value):
    return json.dumps(value, ensure_ascii=False)


def test_full_scope_is_the_event_as_published(stored):
    for event in stored:
        assert scoped(event, "full") == event


def test_reduced_scope_reduces_names_and_drops_incomes(stored):
    registered = next(e for e in stored if e["type"] == "HouseholdRegistered")
    reduced = scoped(registered, "reduced")
    members = reduced["data"]["members"]
    assert [m["name"] for m in members][:2] == ["王*", "李*"]
    assert all("monthly_income" not in m for m in members)
    assert "812.50" not in _texts(reduced) and "王芳" not in _texts(reduced)
    assert registered["data"]["address"] == "鼓楼区中山路1号" and "address" not in reduced["data"]
    # identity numbers stay masked as on the bus; the original event is untouched
    assert all(m["id_number"] == o["id_number"] for m, o in zip(members, registered["data"]["members"]))
    assert registered["data"]["members"][0]["name"] == "王芳"


def test_reduced_scope_drops_amounts_of_persons_at_any_depth(stored):
    personal = {"allowance", "household_income", "per_capita_income", "assets", "amount", "monthly_income"}
    seen = set()
    for event in stored:
        reduced = scoped(event, "reduced")
        text = _texts(reduced["data"])
        seen |= {k for k in personal if f'"{k}"' in _texts(event["data"])}
        assert not any(f'"{k}"' in text for k in personal), event["type"]
    assert {"allowance", "monthly_income"} <= seen  # the year had them: the test saw something to drop


def test_reduced_scope_removes_the_actor_extensions_only():
    event = {"id": "1", "source": "s", "type": "CaseApproved", "specversion": "1.0", "actor": "officer-li",
             "actorroles": "officer", "actorclient": "gateway", "requestid": "r-1", "traceparent": "00-ab-cd-01",
             "sequence": "00000000000000000007", "data": {"officer": "李强", "month": "2007-01"}}
    before = copy.deepcopy(event)
    reduced = scoped(event, "reduced")
    assert not {"actor", "actorroles", "actorclient"} & set(reduced)
    assert reduced["requestid"] == "r-1" and reduced["traceparent"] == "00-ab-cd-01"
    assert reduced["data"] == {"officer": "李*", "month": "2007-01"}
    assert event == before


def test_the_bureaus_own_reserve_amounts_stay_in_reduced_scope():
    event = {"type": "ReserveDeposited", "data": {"amount": "1000.00", "donor": "张三"}}
    assert scoped(event, "reduced")["data"] == {"amount": "1000.00", "donor": "张*"}


def test_legal_basis_decides_the_scope():
    assert [scope_of(b) for b in ("statistics", "oversight", "service_delivery", "law_enforcement")] == \
        ["reduced", "reduced", "full", "full"]
    with pytest.raises(ValueError):
        scoped({"type": "X"}, "everything")

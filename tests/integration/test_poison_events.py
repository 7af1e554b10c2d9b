"""Integration tier: an event the read model cannot take (a value out of a column's range, a
handler's KeyError) is skipped and recorded, the events around it applied in order and exactly
once, on the real PostgreSQL; a rebuild meets it again and gives the same result."""
from __future__ import annotations

import types
import uuid

import pytest

from services.welfare import readmodel as welfare
from services.projection.readmodel import ReadModel
from shared import contract
from shared.config import settings
from shared.consumer import is_permanent

INSTITUTION = str(uuid.UUID(int=7))


def bump(db, data, event):
    """Not idempotent on purpose: an event applied twice would show in the beds."""
    db.exec("UPDATE {s}.wf_institutions SET beds = beds + %(by)s WHERE institution_id = %(id)s",
            {"by": data["by"], "id": data["aggregate_id"]})


def fake_welfare(bump_handler=bump) -> types.ModuleType:
    module = types.ModuleType("fake_welfare")
    module.SOURCE, module.TABLES, module.VIEWS = "welfare", welfare.TABLES, welfare.VIEWS
    module.HANDLERS = {**welfare.HANDLERS, "Bump": bump_handler}
    return module


def event(sequence: int, type_: str, **data) -> dict:
    return {"id": f"event-{sequence}", "type": type_, "sequence": contract.sequence_text(sequence),
            "prevsequence": contract.sequence_text(sequence - 1),
            "data": {"aggregate_id": INSTITUTION, **data}}


EVENTS = [event(1, "InstitutionRegistered", aggregate_version=1, area="xilin", name="西林敬老院",
                kind="public", beds=10, registered_on="2007-01-15"),
          event(2, "Bump", by=1),
          event(3, "Bump", by=10**30),      # integer out of range: psycopg DataError at commit
          event(4, "Bump", by=2),
          event(5, "Bump"),                 # no "by": the handler's KeyError
          event(6, "Bump", by=4)]


def beds(model: ReadModel) -> int:
    rows = model.table_rows("wf_institutions")
    assert len(rows) == 1
    return rows[0][4]


@pytest.fixture
def model(fresh_schemas):
    from shared.db import ensure_schema
    ensure_schema(settings(), "read_model")
    datastore = ReadModel.connect(settings()).datastore
    model = ReadModel(datastore, sources=[fake_welfare()])
    yield model


def test_a_poison_event_fails_the_batch_permanently_without_isolation(model):
    with pytest.raises(Exception) as failure:
        model.apply_batch("welfare", EVENTS)
    assert is_permanent(failure.value), repr(failure.value)
    assert model.position("welfare") == 0 and model.table_rows("wf_institutions") == []


def test_poison_events_in_the_middle_are_skipped_the_others_applied_exactly_once(model):
    skipped = []
    applied = model.apply_batch("welfare", EVENTS, on_skip=lambda e, error: skipped.append((e, error)))
    assert applied == 4
    assert [int(e["sequence"]) for e, _ in skipped] == [3, 5]
    assert beds(model) == 10 + 1 + 2 + 4
    assert model.position("welfare") == 6
    recorded = model.skipped("welfare")
    assert [(r["sequence"], r["type"], r["reason"], r["event_id"]) for r in recorded] == \
        [(3, "Bump", "apply-failed", "event-3"), (5, "Bump", "apply-failed", "event-5")]
    assert "out of range" in recorded[0]["detail"] and "KeyError" in recorded[1]["detail"]

    # A redelivery of what came after: nothing twice. The gap detector sees no gap past 3 or 5.
    fetched = []
    assert model.apply_batch("welfare", EVENTS[3:4] + EVENTS[5:], lambda a, b: fetched.append((a, b)) or []) == 0
    assert beds(model) == 17 and fetched == []

    # The next events go on from the position (no gap: event 7 follows 6).
    model.apply_batch("welfare", [event(7, "Bump", by=100)], lambda a, b: fetched.append((a, b)) or [])
    assert beds(model) == 117 and fetched == [] and model.position("welfare") == 7

    # A rebuild meets the poison again: it does not abort, keeps them skipped, same rows.
    first_skipped_at = [r["at"] for r in recorded]
    pages = [EVENTS[:2], EVENTS[2:4], EVENTS[4:], [event(7, "Bump", by=100)]]
    assert model.rebuild(["welfare"], lambda source: iter(pages)) == {"welfare": 7}
    assert beds(model) == 117 and model.position("welfare") == 7
    again = model.skipped("welfare")
    assert [r["sequence"] for r in again] == [3, 5]
    assert [r["at"] for r in again] == first_skipped_at  # the records kept, not made anew


def test_a_fresh_rebuild_records_the_poison_as_the_live_model_did(model, fresh_schemas):
    live = []
    model.apply_batch("welfare", EVENTS, on_skip=lambda e, error: live.append(e))
    from shared.db import ensure_schema
    ensure_schema(settings(), "read_model_poison_replay")
    replay_store = ReadModel.connect(settings(), schema="read_model_poison_replay").datastore
    replay = ReadModel(replay_store, sources=[fake_welfare()])
    replay.rebuild(["welfare"], lambda source: iter([EVENTS]))  # one page: it fails, then one by one
    assert beds(replay) == beds(model) == 17
    assert [r["sequence"] for r in replay.skipped()] == [r["sequence"] for r in model.skipped()] == [3, 5]


def test_a_requeued_skipped_event_is_tried_again_and_its_record_dropped_once_it_applies(model):
    model.apply_batch("welfare", EVENTS, on_skip=lambda e, error: None)
    # Still failing: a re-queued copy fails permanently again, isolated it is skipped again.
    with pytest.raises(Exception) as failure:
        model.apply_batch("welfare", [EVENTS[4]])
    assert is_permanent(failure.value)
    again = []
    assert model.apply_batch("welfare", [EVENTS[4]], on_skip=lambda e, error: again.append(e)) == 0
    assert [int(e["sequence"]) for e in again] == [5]
    # The handler fixed (a missing "by" counts as 1), the re-queued event applies, late.
    model.sources["welfare"].HANDLERS["Bump"] = lambda db, data, e: bump(db, {"by": 1, **data}, e)
    assert model.apply_batch("welfare", [EVENTS[4]]) == 1
    assert beds(model) == 18 and [r["sequence"] for r in model.skipped()] == [3]
    assert model.apply_batch("welfare", [EVENTS[4]]) == 0  # and only once
    assert beds(model) == 18
    # A rebuild with the fix applies it in order and keeps only 3 skipped.
    model.rebuild(["welfare"], lambda source: iter([EVENTS]))
    assert beds(model) == 18 and [r["sequence"] for r in model.skipped()] == [3]

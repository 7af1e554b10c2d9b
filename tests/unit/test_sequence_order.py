"""Unit tier: the contract of `sequence` (shared/contract.py, docs/asyncapi.yaml): zero-padded so
that sequences sort as strings exactly as they sort as numbers (the CloudEvents sequence
extension compares them as strings), across every width boundary, and readable as a number."""
from __future__ import annotations

from shared import contract
from shared.asyncapi import SEQUENCE_DESCRIPTION

BOUNDARIES = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 10 ** 9 - 1, 10 ** 9, 10 ** 19 - 1, 10 ** 19, 10 ** 20 - 1]


def test_lexical_order_is_numeric_order_across_width_boundaries():
    texts = [contract.sequence_text(n) for n in reversed(BOUNDARIES)]
    assert sorted(texts) == [contract.sequence_text(n) for n in BOUNDARIES]
    for a, b in zip(BOUNDARIES, BOUNDARIES[1:]):            # 9 -> 10, 99 -> 100, ...
        assert contract.sequence_text(a) < contract.sequence_text(b)
    assert str(9) > str(10)                                   # what padding prevents


def test_every_sequence_has_the_same_width_and_reads_as_its_number():
    for n in BOUNDARIES:
        text = contract.sequence_text(n)
        assert len(text) == contract.SEQUENCE_DIGITS == 20 and text.isdigit() and int(text) == n


def test_a_cloudevent_carries_the_padded_sequence_and_the_contract_says_so():
    from tests.support import memory_app
    app = memory_app()
    notifications = app.recorder.select_notifications(start=1, limit=12)
    events = contract.to_cloudevents(app, notifications)
    sequences = [e.get_extension("sequence") for e in events]
    assert sequences == sorted(sequences) and [int(s) for s in sequences] == [n.id for n in notifications]
    assert [contract.sequence_of(e) for e in events] == [n.id for n in notifications]
    assert "sort as strings exactly as they sort as numbers" in SEQUENCE_DESCRIPTION
    assert "int(sequence)" in SEQUENCE_DESCRIPTION and "/events/position" in SEQUENCE_DESCRIPTION

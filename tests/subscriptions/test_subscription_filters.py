"""Unit tier: the filter dialects of the CloudEvents Subscriptions API, checked (refusals with
their codes and places) and matched against CloudEvents."""
from __future__ import annotations

import pytest

from services.subscriptions import filters
from shared.errors import InvalidInput

EVENT = {"specversion": "1.0", "id": "e-1", "source": "urn:zhonglou-civil-affairs:social_assistance",
         "type": "CaseApproved", "subject": "case/42", "sequence": "00000000000000000042",
         "requestid": "req-7", "flag": True, "count": 3}

MATCHES = [
    ([], True),
    ([{"exact": {"type": "CaseApproved"}}], True),
    ([{"exact": {"type": "caseapproved"}}], False),                 # case-sensitive
    ([{"exact": {"type": "CaseApprove"}}], False),
    ([{"prefix": {"type": "Case"}}], True),
    ([{"prefix": {"type": "Household"}}], False),
    ([{"suffix": {"type": "Approved"}}], True),
    ([{"suffix": {"subject": "/43"}}], False),
    ([{"exact": {"missing": "x"}}], False),                         # an absent attribute matches nothing
    ([{"not": {"exact": {"missing": "x"}}}], True),
    ([{"exact": {"flag": "true"}}, {"exact": {"count": "3"}}], True),  # canonical string forms
    ([{"exact": {"type": "CaseApproved"}}, {"prefix": {"subject": "household/"}}], False),  # all must match
    ([{"all": [{"prefix": {"type": "Case"}}, {"suffix": {"type": "Approved"}}]}], True),
    ([{"all": [{"prefix": {"type": "Case"}}, {"suffix": {"type": "Rejected"}}]}], False),
    ([{"any": [{"exact": {"type": "CaseRejected"}}, {"exact": {"type": "CaseApproved"}}]}], True),
    ([{"any": [{"exact": {"type": "CaseRejected"}}, {"exact": {"type": "CasePaid"}}]}], False),
    ([{"not": {"exact": {"type": "CaseApproved"}}}], False),
    ([{"not": {"any": [{"prefix": {"subject": "household"}}, {"exact": {"requestid": "x"}}]}}], True),
    ([{"prefix": {"sequence": "0000000000000000004"}}], True),
]


@pytest.mark.parametrize(("expressions", "expected"), MATCHES)
def test_matches(expressions, expected):
    assert filters.matches(filters.check(expressions), EVENT) is expected


def nested(depth: int) -> dict:
    expression = {"exact": {"type": "CaseApproved"}}
    for _ in range(depth - 1):
        expression = {"not": expression}
    return expression


REFUSED = [
    ({"exact": {"type": "x"}}, "filters", "subscription.filters_not_a_list"),
    ([{"sql": "type = 'CaseApproved'"}], "filters[0].sql", "subscription.unsupported_dialect"),
    ([{"regex": {"type": ".*"}}], "filters[0].regex", "subscription.unknown_dialect"),
    ([{"all": [{"exact": {"type": "a"}}, {"jsonpath": "$.x"}]}], "filters[0].all[1].jsonpath",
     "subscription.unknown_dialect"),
    ([{}], "filters[0]", "subscription.bad_filter"),
    ([{"exact": {"type": "a"}, "prefix": {"type": "b"}}], "filters[0]", "subscription.bad_filter"),
    (["exact"], "filters[0]", "subscription.bad_filter"),
    ([{"exact": {"type": "a", "subject": "b"}}], "filters[0].exact", "subscription.bad_filter"),
    ([{"exact": {}}], "filters[0].exact", "subscription.bad_filter"),
    ([{"exact": {"Type": "a"}}], "filters[0].exact", "subscription.bad_attribute"),
    ([{"exact": {"data": "a"}}], "filters[0].exact", "subscription.bad_attribute"),
    ([{"exact": {"a" * 21: "a"}}], "filters[0].exact", "subscription.bad_attribute"),
    ([{"exact": {"type": ""}}], "filters[0].exact.type", "subscription.bad_filter_value"),
    ([{"exact": {"type": 7}}], "filters[0].exact.type", "subscription.bad_filter_value"),
    ([{"prefix": {"type": "x" * 201}}], "filters[0].prefix.type", "subscription.filter_value_too_long"),
    ([{"all": []}], "filters[0].all", "subscription.bad_filter"),
    ([{"any": {"exact": {"type": "a"}}}], "filters[0].any", "subscription.bad_filter"),
    ([nested(4)], "filters[0].not.not.not", "subscription.filter_too_deep"),
    ([{"exact": {"type": "a"}}] * 21, "filters[20]", "subscription.too_many_filters"),
    ([{"any": [{"exact": {"type": "a"}}] * 20}], "filters[0].any[19]", "subscription.too_many_filters"),
]


@pytest.mark.parametrize(("expressions", "field", "code"), REFUSED)
def test_refused(expressions, field, code):
    with pytest.raises(InvalidInput) as refused:
        filters.check(expressions)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_bounds_are_inclusive():
    assert len(filters.check([nested(3)])) == 1
    assert len(filters.check([{"exact": {"type": "a"}}] * 20)) == 20
    assert filters.check([{"prefix": {"type": "x" * 200}}]) == [{"prefix": {"type": "x" * 200}}]
    assert filters.check(None) == []

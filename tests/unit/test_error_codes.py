"""Unit tier: every typed error carries a stable machine-readable rule code, through RPC too."""
from __future__ import annotations

import pickle

import pytest
from nameko.exceptions import deserialize, serialize

from shared import nameko_support  # noqa: F401  (registers the domain errors with Nameko)
from shared.errors import Conflict, DomainError, InvalidInput, NotFound
from tests import error_codes


@pytest.fixture(scope="module")
def sites():
    return error_codes.sites()


def test_every_raise_site_passes_a_code(sites):
    assert len(sites) > 100  # the scan finds the raise sites at all
    missing = [f"{s.path}:{s.line} {s.error}" for s in sites if s.code is None]
    assert not missing, "typed errors raised without code=: " + ", ".join(missing)


def test_codes_are_dotted_lowercase_rule_names_without_values(sites):
    bad = [f"{s.path}:{s.line} {s.code!r}" for s in sites if s.code and not error_codes.CODE.match(s.code)]
    assert not bad, f"codes must match {error_codes.CODE.pattern}: " + ", ".join(bad)


def test_a_code_is_always_the_same_error_type(sites):
    types: dict[str, set[str]] = {}
    for site in sites:
        types.setdefault(site.code, set()).add(site.error)
    assert {code: kinds for code, kinds in types.items() if len(kinds) > 1} == {}


def test_the_doc_lists_every_code_and_no_other(sites):
    in_source = {s.code: ", ".join(sorted({t.error for t in sites if t.code == s.code})) for s in sites}
    listed = error_codes.documented()
    assert sorted(set(in_source) - set(listed)) == [], "run: python -m tests.error_codes"
    assert sorted(set(listed) - set(in_source)) == [], "docs/errors.md lists codes no longer raised"
    assert listed == in_source


def test_the_scan_catches_a_site_without_a_code(tmp_path, monkeypatch):
    (tmp_path / "services").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "services" / "x.py").write_text(
        "from shared import errors\n"
        "def f():\n"
        "    raise errors.Conflict('a', 'b')\n"
        "def g():\n"
        "    raise InvalidInput('a', 'b', code='input.empty_text')\n")
    monkeypatch.setattr(error_codes, "ROOT", tmp_path)
    assert [(s.line, s.error, s.code) for s in error_codes.sites()] == [
        (3, "Conflict", None), (5, "InvalidInput", "input.empty_text")]


def test_the_code_is_carried_by_the_error_and_its_dict():
    error = Conflict("officer", "approval must be by a different officer", code="dibao.maker_checker")
    assert (error.code, error.field, error.rule) == ("dibao.maker_checker", "officer",
                                                     "approval must be by a different officer")
    assert error.as_dict() == {"error": "Conflict", "code": "dibao.maker_checker", "field": "officer",
                               "rule": "approval must be by a different officer",
                               "message": "officer: approval must be by a different officer"}
    assert str(error) == "officer: approval must be by a different officer"


def test_the_constructor_stays_compatible_with_positional_arguments():
    old = InvalidInput("amount", "must not be negative")
    assert (old.field, old.rule, old.message, old.code) == (
        "amount", "must not be negative", "amount: must not be negative", None)
    assert old.args == ("amount", "must not be negative", "amount: must not be negative")
    given = NotFound("case_id", "no case with this id", "no such case", "store.not_found")
    assert (given.message, given.code) == ("no such case", "store.not_found")


@pytest.mark.parametrize("error", [
    InvalidInput("members[0].id_number", "check digit does not match", code="identity.check_digit"),
    NotFound("case_id", "no case with this id", code="store.not_found"),
    Conflict("amount", "would overdraw the reserve", code="relief.reserve_overdraw"),
    DomainError("year", "must be a year", code="input.year_out_of_range"),
    InvalidInput("amount", "must not be negative"),  # an older raiser without a code
])
def test_the_nameko_round_trip_keeps_type_code_field_and_rule(error):
    """What an RPC caller gets back: Nameko sends `exc.args` and rebuilds `cls(*args)`."""
    back = deserialize(serialize(error))
    assert type(back) is type(error)
    assert (back.code, back.field, back.rule, back.message) == (error.code, error.field, error.rule,
                                                                error.message)
    copied = pickle.loads(pickle.dumps(error))
    assert (type(copied), copied.code, copied.field) == (type(error), error.code, error.field)


def test_helpers_shared_by_every_domain_raise_one_code_per_rule():
    from shared import identity, money
    with pytest.raises(InvalidInput) as caught:
        identity.validate("320404199001011235", "members[0].id_number")
    assert (caught.value.code, caught.value.field) == ("identity.check_digit", "members[0].id_number")
    with pytest.raises(InvalidInput) as caught:
        identity.validate("3204041990", "id_number")
    assert caught.value.code == "identity.length"
    for value, code in [(1.5, "money.float_refused"), ("abc", "money.not_decimal"),
                        ("-1", "money.negative"), ("1.001", "money.beyond_fen"), ("NaN", "money.not_finite")]:
        with pytest.raises(InvalidInput) as caught:
            money.yuan(value, "price")
        assert (caught.value.code, caught.value.field) == (code, "price")

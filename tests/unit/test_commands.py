"""Unit tier: commands declared once (shared/commands.py and services/<domain>/commands.py)."""
from __future__ import annotations

import inspect
from decimal import Decimal

import pytest

from shared import commands as c
from shared import domains
from shared.errors import InvalidInput
from shared.money import yuan


def refused(arg_type, value, field="f") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        arg_type.check(field, value)
    return caught.value


def code(arg_type, value) -> str:
    return refused(arg_type, value).code


# --- every registered domain's declaration ---------------------------------------------------------

DECLARED = [(domain, command) for domain in domains.registered() if domain.commands
            for command in domain.load("commands").COMMANDS]


def test_every_registered_domain_declares_its_commands():
    assert {d.name for d in domains.registered()} <= {d.name for d, _ in DECLARED}


@pytest.mark.parametrize("domain,command", DECLARED, ids=lambda x: getattr(x, "name", ""))
def test_every_declared_argument_is_bounded(domain, command):
    """Every Text has max_length, every Integer and Amount a ceiling, every ListOf max_items,
    down into records and list items."""
    assert command.unbounded() == []
    def walk(t):
        if isinstance(t, c.Text):
            assert t.max_length is not None
        elif isinstance(t, c.Integer):
            assert t.maximum is not None and t.minimum is not None
        elif isinstance(t, c.Amount):
            assert t.ceiling is not None
        elif isinstance(t, c.ListOf):
            assert t.max_items is not None
            walk(t.item)
        elif isinstance(t, c.Optional):
            walk(t.inner)
        elif isinstance(t, c.Record):
            for f in t.fields:
                walk(f.type)
    for arg in command.args:
        walk(arg.type)


@pytest.mark.parametrize("domain,command", DECLARED, ids=lambda x: getattr(x, "name", ""))
def test_each_declaration_names_a_role_an_area_and_a_method_that_fits(domain, command):
    roles = domain.load("commands").ROLES
    assert command.role in roles and all(r.startswith(f"{domain.name}.") for r in roles)
    assert command.area is None or command.area in [a.name for a in command.args]
    assert command.doc
    method = getattr(domain.load("application"), command.application_method)
    params = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
    keyword_only = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    positional = [a for a in command.args if a.name not in keyword_only]
    # what `invoke` passes binds to the method (names may differ: `month` -> `month_`)
    inspect.signature(method).bind(None, *[object()] * len(positional),
                                   **{k: object() for k in keyword_only & {a.name for a in command.args}})


@pytest.mark.parametrize("domain", [d for d in domains.registered() if d.service],
                         ids=lambda d: d.name)
def test_the_service_has_exactly_the_declared_methods_with_the_declared_signatures(domain):
    from nameko.cli.run import import_service
    [service] = import_service(domain.service)
    declared = {cmd.name: cmd for cmd in domain.load("commands").COMMANDS}
    rpc_methods = {name for name, member in inspect.getmembers(service)
                   if any(type(e).__name__ == "DeclaredRpc"
                          for e in getattr(member, "nameko_entrypoints", ()))}
    assert service.name == domain.name and rpc_methods == set(declared)
    for name, command in declared.items():
        assert inspect.signature(getattr(service, name)) == command.signature()


# --- the types ---------------------------------------------------------------------------------------

def test_amount_refuses_what_decimal_would_choke_on_with_a_code():
    amount = c.Amount(ceiling=1_000_000)
    assert code(amount, "1e400") == c.NOT_A_NUMBER
    assert code(amount, "1" * 50) == c.ABOVE_CEILING
    assert code(amount, "9" * 100_000) == c.TOO_LONG
    for bad in ("NaN", "sNaN", "Infinity", "-Infinity", float("nan"), float("inf"), "", "1,000",
                "12.3.4", None, [], True, Decimal("1E+400")):
        assert code(amount, bad) == c.NOT_A_NUMBER, bad
    assert code(amount, 0.1 + 0.2) == c.TOO_MANY_DECIMALS      # binary noise
    assert code(amount, "12.345") == c.TOO_MANY_DECIMALS
    assert code(amount, "1000000.01") == c.ABOVE_CEILING
    assert code(amount, "-1") == c.BELOW_MINIMUM
    assert amount.check("f", "1200") == "1200.00"
    assert amount.check("f", 5) == "5.00" and amount.check("f", 12.5) == "12.50"
    assert amount.check("f", " 0.10 ") == "0.10" and amount.check("f", "12.340") == "12.34"
    assert refused(amount, "1e400", field="amount").field == "amount"


def test_money_yuan_never_raises_decimal_errors():
    for bad, expected in (("1e400", "money.above_ceiling"), ("1" * 50, "money.above_ceiling"),
                          ("NaN", "money.not_finite"), ("sNaN", "money.not_finite"),
                          ("-Infinity", "money.not_finite"), ("x" * 1000, "money.too_long"),
                          ("1e-400", "money.beyond_fen"), ([], "money.not_decimal")):
        with pytest.raises(InvalidInput) as caught:
            yuan(bad, "amount")
        assert (caught.value.field, caught.value.code) == ("amount", expected), bad
    assert yuan("1200") == Decimal("1200.00")


def test_text_bounds():
    name = c.Text(50, 1)
    assert name.check("f", "  王芳 ") == "王芳"
    assert code(name, "x" * 100_000) == c.TOO_LONG
    assert code(name, "   ") == c.TOO_SHORT
    assert code(name, 5) == c.NOT_TEXT
    assert code(name, "a\x00b") == c.CONTROL_CHARACTER
    assert code(name, "a\nb") == c.CONTROL_CHARACTER
    assert c.Text(500, multiline=True).check("f", "a\nb") == "a\nb"
    assert code(c.Text(40, pattern=r"[a-z]+"), "Bei Gang") == c.BAD_FORMAT


def test_integers_dates_months_and_the_rest():
    beds = c.Integer(1, 10_000)
    assert code(beds, 10 ** 30) == c.ABOVE_CEILING and code(beds, 0) == c.BELOW_MINIMUM
    assert code(beds, True) == c.NOT_A_WHOLE_NUMBER and code(beds, 2.0) == c.NOT_A_WHOLE_NUMBER
    assert code(beds, "5") == c.NOT_A_WHOLE_NUMBER
    day = c.Date()
    assert day.check("f", "2007-02-01") == "2007-02-01"
    assert code(day, "2007-02-30") == c.NOT_A_DATE and code(day, "20070201") == c.NOT_A_DATE
    assert code(day, "1899-12-31") == c.DATE_OUT_OF_RANGE and code(day, "9999-01-01") == c.DATE_OUT_OF_RANGE
    moment = c.DateTime()
    assert moment.check("f", "2007-07-06T03:30") == "2007-07-06T03:30"
    assert code(moment, "2007-07-06") == c.NOT_A_DATETIME
    assert code(moment, "0001-01-01T00:00") == c.DATE_OUT_OF_RANGE
    month = c.Month()
    assert month.check("f", "2007-01") == "2007-01"
    assert code(month, "2007-13") == c.NOT_A_MONTH and code(month, "3000-01") == c.DATE_OUT_OF_RANGE
    assert code(c.Year(), 10 ** 9) == c.ABOVE_CEILING
    assert code(c.Bool(), 1) == c.NOT_A_BOOLEAN and c.Bool().check("f", False) is False
    assert c.Uuid().check("f", "00000000-0000-4000-8000-00000000000A") == "00000000-0000-4000-8000-00000000000a"
    assert code(c.Uuid(), "case-1") == c.NOT_A_UUID
    assert code(c.IdNumber(), "3204041960") == c.NOT_AN_ID_NUMBER
    assert c.IdNumber().check("f", "32040419600101001X") == "32040419600101001X"
    assert code(c.Choice(("urban", "rural")), "town") == c.NOT_ONE_OF
    assert c.Optional(c.Month()).check("f", None) is None


def test_lists_and_records_name_the_nested_field():
    members = c.ListOf(c.Record(c.Arg("name", c.Text(50, 1)), c.Arg("income", c.Amount(1000), default="0")),
                       max_items=20, min_items=1)
    assert members.check("m", [{"name": "王芳"}]) == [{"name": "王芳"}]
    assert code(members, []) == c.TOO_FEW_ITEMS
    assert code(members, [{"name": "a"}] * 21) == c.TOO_MANY_ITEMS
    assert code(members, "王芳") == c.NOT_A_LIST
    error = refused(members, [{"name": "a"}, {"name": "x" * 100_000}], field="members")
    assert (error.field, error.code) == ("members[1].name", c.TOO_LONG)
    error = refused(members, [{"name": "a", "age": 3}], field="members")
    assert (error.field, error.code) == ("members[0].age", c.UNKNOWN_FIELD)
    error = refused(members, [{"income": "1"}], field="members")
    assert (error.field, error.code) == ("members[0].name", c.REQUIRED)
    assert code(members, ["a"]) == c.NOT_AN_OBJECT


# --- binding RPC arguments ------------------------------------------------------------------------------

SET_STANDARD = c.Command("set_standard", (
    c.Arg("area", c.Text(40, 1)), c.Arg("registration", c.Choice(("urban", "rural"))),
    c.Arg("amount", c.Amount(1_000_000)), c.Arg("effective_month", c.Month()),
    c.Arg("reason", c.Text(500), default="")), role="social_assistance.approver", area="area")


def bind_refused(*args, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        SET_STANDARD.bind(args, kwargs)
    return caught.value


def test_bind_maps_positional_and_keyword_arguments_and_checks_each():
    assert SET_STANDARD.bind(("beigang", "urban", "1200", "2007-01")) == {
        "area": "beigang", "registration": "urban", "amount": "1200.00",
        "effective_month": "2007-01", "reason": ""}
    assert SET_STANDARD.bind(("beigang",), {"registration": "rural", "amount": 5,
                                            "effective_month": "2007-01", "reason": "x"})["reason"] == "x"
    error = bind_refused("beigang", "urban", "1e400", "2007-01")
    assert (error.field, error.code) == ("amount", c.NOT_A_NUMBER)
    error = bind_refused("beigang", "urban", "1200")
    assert (error.field, error.code) == ("effective_month", c.REQUIRED)
    error = bind_refused("beigang", "urban", "1200", "2007-01", colour="red")
    assert (error.field, error.code) == ("colour", c.UNKNOWN_FIELD)
    assert bind_refused("beigang", "urban", "1200", "2007-01", "", "extra").code == c.TOO_MANY_ARGUMENTS
    assert bind_refused("beigang", "urban", "1", "2007-01", area="x").code == c.UNKNOWN_FIELD
    assert bind_refused("beigang", "urban", None, "2007-01").code == c.REQUIRED


def test_invoke_passes_keyword_only_parameters_by_name():
    class App:
        def get(self, thing_id, *, reveal_identity=False):
            return thing_id, reveal_identity
    get = c.Command("get", (c.Arg("thing_id", c.Uuid()), c.Arg("reveal_identity", c.Bool(), default=False)),
                    role="r", kind=c.QUERY, method="get")
    uid = "00000000-0000-4000-8000-000000000000"
    assert get.invoke(App(), get.bind((uid, True))) == (uid, True)


def test_invoke_makes_on_progress_only_for_a_method_that_takes_it():
    class App:
        def run(self, month, on_progress=None):
            on_progress(1, 1)
            return month

        def get(self, month):
            return month
    made = []

    def make():
        made.append(1)
        return lambda done, total: made.append((done, total))
    run = c.Command("run", (c.Arg("month", c.Month()),), role="r", method="run")
    get = c.Command("get", (c.Arg("month", c.Month()),), role="r", kind=c.QUERY, method="get")
    assert get.invoke(App(), get.bind(("2007-01",)), on_progress=make) == "2007-01" and made == []
    assert run.invoke(App(), run.bind(("2007-01",)), on_progress=make) == "2007-01"
    assert made == [1, (1, 1)]


def test_progress_sets_its_gauges_and_writes_a_line_at_most_every_interval():
    from shared.progress import DONE, ITEMS, Progress
    lines = []
    progress = Progress("payments", {"service": "test", "entrypoint": "run"}, every=3600, write=lines.append)
    progress(10, 30)
    progress(20, 30)
    assert DONE.labels(service="test", entrypoint="run")._value.get() == 20
    assert ITEMS.labels(service="test", entrypoint="run")._value.get() == 30
    assert lines == []                   # within the interval and not done
    progress(30, 30)
    assert len(lines) == 1 and lines[0].startswith("payments: 30/30 (")


def test_a_declaration_is_refused_when_inconsistent():
    with pytest.raises(ValueError):
        c.Command("x", (c.Arg("a", c.Bool()), c.Arg("a", c.Bool())), role="r")
    with pytest.raises(ValueError):
        c.Command("x", (c.Arg("a", c.Bool(), default=False), c.Arg("b", c.Bool())), role="r")
    with pytest.raises(ValueError):
        c.Command("x", (c.Arg("a", c.Bool()),), role="r", area="b")


def test_the_schema_a_gateway_builds_from_carries_the_bounds():
    schema = SET_STANDARD.schema()
    assert schema["required"] == ["area", "registration", "amount", "effective_month"]
    assert schema["properties"]["area"]["maxLength"] == 40
    assert schema["properties"]["amount"]["x-ceiling"] == "1000000.00"
    assert schema["additionalProperties"] is False

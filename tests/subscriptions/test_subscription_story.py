"""Unit tier: a subscription's life in the application, in memory: created with a secret shown
once, validated, active, deliveries acknowledged, the sink changed (validated again), secrets
rotated (two valid), suspended and resumed, replayed, deleted; every bound refused with its code
and nothing stored."""
from __future__ import annotations

import base64
from uuid import UUID

import pytest
from eventsourcing.cryptography import AESCipher

from services.subscriptions.application import Subscriptions
from services.subscriptions.domain import Directory, fingerprint, scope_of
from shared.audit import acting
from shared.errors import Conflict, InvalidInput, NotFound

SOURCES = ("social_assistance", "welfare")


@pytest.fixture
def app():
    return Subscriptions({"PERSISTENCE_MODULE": "eventsourcing.popo",
                          "CIPHER_KEY": AESCipher.create_key(32)}, sources=SOURCES)


def create(app, **given):
    values = dict(subscriber="City Finance Bureau", purpose="pay out allowances",
                  legal_basis="service_delivery", source="social_assistance",
                  sink="https://finance.example/hooks/dibao", types=["CaseApproved"],
                  filters=[{"prefix": {"subject": "case"}}])
    values.update(given)
    return app.create(**values)


def head(app) -> int:
    return app.recorder.max_notification_id() or 0


def test_the_story(app):
    with acting({"actor": "admin-zhou", "roles": ["administrator"], "client": None,
                 "request_id": "req-1", "traceparent": None}):
        created = create(app)
    secret = created.pop("secret")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert created["state"] == "created" and created["scope"] == "full" and created["position"] == 0
    assert created["secret_count"] == 1 and created["secret_fingerprint"] == fingerprint(secret)
    sid = created["id"]
    shown = app.get(sid)
    assert "secret" not in shown and "secrets" not in shown and secret not in repr(shown)
    assert app.list() == [shown]
    assert app.validate_sink(sid, 600)["state"] == "validated" and app.get(sid)["allowed_rate"] == 600
    assert app.activate(sid)["state"] == "active"
    delivered = [{"id": "e-1", "type": "CaseApproved", "subject": "c-1", "sequence": 10,
                  "scope": "full", "at": "2007-03-01T08:00:00+00:00"}]
    assert app.acknowledge(sid, 10, previous=0, deliveries=delivered) is True
    assert app.get(sid)["position"] == 10 and app.get(sid)["delivered"] == 1
    version = app.get(sid)["version"]
    assert app.acknowledge(sid, 7) is False and app.get(sid)["version"] == version  # never back
    assert app.acknowledge(sid, 20, previous=3) is False and app.get(sid)["position"] == 10  # moved meanwhile
    with pytest.raises(InvalidInput) as bad:
        app.acknowledge(sid, 20, previous=10, deliveries=[{"name": "王芳"}])
    assert bad.value.code == "subscription.bad_deliveries" and app.get(sid)["version"] == version
    app.dead_letter(sid, {"id": "e-2", "type": "CaseApproved", "sequence": "00000000000000000011"}, "HTTP 500 x5")
    assert app.get(sid)["dead_letters"] == [{"event_id": "e-2", "sequence": 11, "type": "CaseApproved",
                                             "reason": "HTTP 500 x5"}]
    assert app.update(sid, sink="https://finance.example/hooks/v2")["state"] == "created"
    assert app.update(sid, types=["CaseApproved"])["version"] == app.get(sid)["version"]  # no change, no event
    rotated = app.rotate_secret(sid)
    assert rotated["secret_count"] == 2 and app.delivery(sid)["secrets"] == [rotated["secret"], secret]
    again = app.rotate_secret(sid)
    assert app.delivery(sid)["secrets"] == [again["secret"], rotated["secret"]]      # at most two
    assert app.rotate_secret(sid, keep_previous=False)["secret_count"] == 1
    assert app.suspend(sid, "receiver answered 410 Gone")["state"] == "suspended"
    assert app.get(sid)["reason"] == "receiver answered 410 Gone"
    with pytest.raises(Conflict) as twice:
        app.suspend(sid, "again")
    assert twice.value.code == "subscription.already_suspended"
    assert app.resume(sid)["state"] == "created"
    assert app.replay(sid, 3)["position"] == 3
    deleted = app.delete(sid)
    assert deleted["state"] == "deleted" and deleted["secret_count"] == 0 and app.list() == []
    for change in (lambda: app.resume(sid), lambda: app.acknowledge(sid, 20), lambda: app.delete(sid),
                   lambda: app.rotate_secret(sid)):
        with pytest.raises(Conflict) as refused:
            change()
        assert refused.value.code == "subscription.deleted"


def test_events_carry_the_administrators_audit(app):
    audit = {"actor": "admin-zhou", "roles": ["administrator"], "client": None,
             "request_id": "req-9", "traceparent": None}
    with acting(audit):
        sid = create(app)["id"]
    events = list(app.events.get(UUID(sid)))
    assert [type(e).__name__ for e in events] == ["Created"] and events[0].audit == audit


def test_state_machine_refusals(app):
    sid = create(app)["id"]
    for change, code in ((app.activate, "subscription.not_validated"),
                         (app.resume, "subscription.not_suspended")):
        with pytest.raises(Conflict) as refused:
            change(sid)
        assert refused.value.code == code
    app.validate_sink(sid)
    with pytest.raises(Conflict) as refused:
        app.validate_sink(sid)
    assert refused.value.code == "subscription.not_created"


def test_amqp_has_no_webhook_secret_and_gets_provisioned_credentials(app):
    app.provisioner = lambda view: {"username": f"sub-{view['id']}", "password": "p"}
    created = create(app, protocol="AMQP", sink="amqp://broker.example/civil", legal_basis="statistics")
    assert "secret" not in created and created["secret_count"] == 0 and created["scope"] == "reduced"
    assert created["credentials"]["username"] == f"sub-{created['id']}"
    assert "credentials" not in app.get(created["id"])
    # its sink was made by us: no handshake, validated and active in the same save
    assert created["state"] == app.get(created["id"])["state"] == "active"
    events = [type(e).__name__ for e in app.events.get(UUID(created["id"]))]
    assert events == ["Created", "SinkValidated", "Activated"]
    assert app.get(created["id"])["version"] == 3
    with pytest.raises(Conflict) as refused:
        app.rotate_secret(created["id"])
    assert refused.value.code == "subscription.no_webhook_secret"
    removed = []
    app.deprovisioner = removed.append
    app.delete(created["id"])
    assert [view["id"] for view in removed] == [created["id"]]


def test_an_amqp_subscription_without_a_provisioner_stays_created(app):
    created = create(app, protocol="AMQP", sink="amqp://broker.example/civil")
    assert "credentials" not in created and app.get(created["id"])["state"] == "created"


def test_an_amqp_subscription_whose_activation_is_not_saved_keeps_its_credentials_and_stays_created(app):
    saves = []

    def save_but_the_activation(*aggregates, **kwargs):
        saves.append(aggregates)
        if len(saves) == 2:
            raise ConnectionError("the store is away for a moment")
        return Subscriptions.save(app, *aggregates, **kwargs)
    app.provisioner = lambda view: {"username": f"sub-{view['id']}", "password": "p"}
    app.save = save_but_the_activation
    created = create(app, protocol="AMQP", sink="amqp://broker.example/civil")
    assert created["credentials"]["username"] == f"sub-{created['id']}"
    assert created["state"] == app.get(created["id"])["state"] == "created"   # the delivery process validates it


def test_an_amqp_sink_that_cannot_be_made_leaves_no_subscription(app):
    def broken(view):
        raise RuntimeError("management API unreachable")
    app.provisioner = broken
    with pytest.raises(RuntimeError):
        create(app, protocol="AMQP", sink="amqp://broker.example/civil")
    assert app.list() == []


def test_scopes_of_the_legal_bases():
    assert [scope_of(b) for b in ("statistics", "oversight", "service_delivery", "law_enforcement")] \
        == ["reduced", "reduced", "full", "full"]


REFUSED = [
    (dict(subscriber=""), "subscriber", "subscription.empty_text"),
    (dict(subscriber="x" * 101), "subscriber", "subscription.text_too_long"),
    (dict(purpose="p" * 501), "purpose", "subscription.text_too_long"),
    (dict(subscriber="a\x00b"), "subscriber", "subscription.control_character"),
    (dict(legal_basis="curiosity"), "legal_basis", "subscription.unknown_legal_basis"),
    (dict(source="taxes"), "source", "subscription.unknown_source"),
    (dict(protocol="SMTP"), "protocol", "subscription.unknown_protocol"),
    (dict(types="CaseApproved"), "types", "subscription.types_not_a_list"),
    (dict(types=[f"T{i}" for i in range(51)]), "types", "subscription.too_many_types"),
    (dict(types=["no spaces"]), "types[0]", "subscription.bad_type"),
    (dict(types=["x" * 201]), "types[0]", "subscription.bad_type"),
    (dict(filters=[{"sql": "true"}]), "filters[0].sql", "subscription.unsupported_dialect"),
    (dict(sink="ftp://x.example/"), "sink", "subscription.sink_scheme"),
    (dict(sink="https://x.example/" + "a" * 500), "sink", "subscription.bad_sink"),
    (dict(sink="https://user:pw@x.example/"), "sink", "subscription.sink_credentials"),
    (dict(sink="https:///nohost"), "sink", "subscription.bad_sink"),
    (dict(sink="https://x.example:99999/"), "sink", "subscription.bad_sink"),
    (dict(sink="https://x.example/a b"), "sink", "subscription.bad_sink"),
    (dict(protocol="AMQP", sink="https://x.example/"), "sink", "subscription.sink_scheme"),
    (dict(protocolsettings=[]), "protocolsettings", "subscription.settings_not_an_object"),
    (dict(protocolsettings={"batchsize": 0}), "protocolsettings.batchsize", "subscription.bad_batchsize"),
    (dict(protocolsettings={"batchsize": 1001}), "protocolsettings.batchsize", "subscription.bad_batchsize"),
    (dict(protocolsettings={"batchsize": "500"}), "protocolsettings.batchsize", "subscription.bad_batchsize"),
    (dict(protocolsettings={"batchsize": True}), "protocolsettings.batchsize", "subscription.bad_batchsize"),
    (dict(config={f"k{i}": 1 for i in range(21)}), "config", "subscription.too_many_settings"),
    (dict(config={"": 1}), "config", "subscription.bad_setting_key"),
    (dict(config={"a": {"nested": 1}}), "config.a", "subscription.bad_setting_value"),
    (dict(config={"a": "x" * 201}), "config.a", "subscription.bad_setting_value"),
    (dict(config={"a": 10 ** 15}), "config.a", "subscription.bad_setting_value"),
    (dict(after=-1), "after", "subscription.bad_position"),
    (dict(after=10 ** 20), "after", "subscription.bad_position"),
]


@pytest.mark.parametrize(("given", "field", "code"), REFUSED)
def test_bad_input_is_refused_and_nothing_is_stored(app, given, field, code):
    before = head(app)
    with pytest.raises(InvalidInput) as refused:
        create(app, **given)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert head(app) == before


def test_unknown_ids_and_bad_updates(app):
    with pytest.raises(NotFound) as missing:
        app.get("6f1c2a3e-0000-4000-8000-000000000009")
    assert missing.value.code == "store.not_found"
    sid = create(app)["id"]
    version = app.get(sid)["version"]
    with pytest.raises(InvalidInput) as refused:
        app.update(sid, filters=[{"not": {"not": {"not": {"exact": {"type": "a"}}}}}])
    assert refused.value.code == "subscription.filter_too_deep"
    assert app.get(sid)["version"] == version
    with pytest.raises(InvalidInput) as batch:
        app.update(sid, protocolsettings={"batchsize": 5000})
    assert batch.value.code == "subscription.bad_batchsize" and app.get(sid)["version"] == version
    assert app.update(sid, protocolsettings={"batchsize": 1000})["protocolsettings"] == {"batchsize": 1000}
    with pytest.raises(InvalidInput) as state:
        app.list(state="paused")
    assert state.value.code == "subscription.unknown_state"


def test_the_directory_is_bounded(app, monkeypatch):
    monkeypatch.setattr(Directory, "MAX", 2)
    create(app), create(app)
    with pytest.raises(Conflict) as full:
        create(app)
    assert full.value.code == "subscription.too_many" and len(app.list()) == 2


def test_the_delivery_process_sees_active_subscriptions_of_both_protocols(app):
    from services.subscriptions.delivery import ApplicationStore
    http = create(app)["id"]
    app.validate_sink(http, None)
    app.activate(http)
    app.provisioner = lambda view: {"username": "u", "password": "p"}
    amqp = create(app, protocol="AMQP", sink="amqp://broker.example/civil")["id"]
    store = ApplicationStore(app)
    assert sorted(s["id"] for s in store.active()) == sorted([http, amqp])
    app.suspend(amqp, "an operator paused it")
    app.resume(amqp)                                     # back to created, as every resume
    assert [s["id"] for s in store.pending()] == [amqp]
    store.sink_validated(amqp, None)                     # what the engine does for AMQP: no handshake
    assert app.get(amqp)["state"] == "active"

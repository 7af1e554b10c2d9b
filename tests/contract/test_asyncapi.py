"""Contract tests: docs/asyncapi.yaml is what `python -m shared.asyncapi` generates from the
registry, it describes every published event type with its JSON Schema, the events the platform
really builds validate against it, and `@asyncapi/parser` (npm, pinned in tests/asyncapi/) accepts
it — and refuses a broken one, so the check can fail.

`npm ci` runs only when tests/asyncapi/node_modules is missing or older than package-lock.json
(a stamp holds the lock file's hash).
"""
from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from shared import asyncapi, contract, domains, schemas

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "asyncapi"
SCRIPT = NODE_DIR / "validate.mjs"
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
STAMP = NODE_DIR / "node_modules" / ".package-lock.sha256"


def _lock_hash() -> str:
    return hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def node_parser() -> Path:
    """tests/asyncapi/node_modules installed from the lock file (cached across runs)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail("node and npm are needed (Node 20: apt-get install nodejs npm)")
    with open(NODE_DIR / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (STAMP.is_file() and STAMP.read_text().strip() == _lock_hash()):
            done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                  cwd=NODE_DIR, capture_output=True, text=True, timeout=280)
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            STAMP.write_text(_lock_hash())
    return SCRIPT


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(SCRIPT), str(path)], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120)


def _committed() -> dict:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def registry_only(monkeypatch):
    """The committed document describes services/registry.py's domains, without a run's extras."""
    monkeypatch.delenv(domains.EXTRA_ENV, raising=False)


def test_committed_document_is_the_generated_one():
    assert DOCUMENT.read_text(encoding="utf-8") == asyncapi.render(), \
        "docs/asyncapi.yaml is stale: run python -m shared.asyncapi"


def test_every_published_type_has_a_message_with_its_schema():
    doc = _committed()
    for domain in domains.registered():
        channel = doc["channels"][f"{domain.name}.events"]
        assert channel["address"] == f"{domain.name}.events"
        assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"
        expected = schemas.known_types(domain.name) | schemas.platform_types()
        assert {k.split(".", 1)[1] for k in channel["messages"]} == expected
        for event_type in expected:
            message = doc["components"]["messages"][f"{domain.name}.{event_type}"]
            part = message["payload"]["allOf"][1]["properties"]
            target = (DOCUMENT.parent / part["data"]["$ref"]).resolve()
            schema = json.loads(target.read_text(encoding="utf-8"))
            assert schema["$id"] in (contract.schema_urn(domain.name, event_type, 1),
                                     contract.schema_urn(schemas.PLATFORM, event_type, 1))
            assert part["type"]["const"] == event_type
            assert message["bindings"]["amqp"]["messageType"] == event_type


def test_sinks_and_sequence_are_documented():
    doc = _committed()
    headers = doc["components"]["schemas"]["WebhookHeaders"]["properties"]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
    assert headers["content-type"]["const"] == "application/cloudevents+json"
    assert doc["operations"]["validateWebhook"]["bindings"]["http"]["method"] == "OPTIONS"
    assert doc["channels"]["subscriptionQueue"]["bindings"]["amqp"]["is"] == "queue"
    sequence = doc["components"]["schemas"]["sequence"]
    assert sequence["pattern"] == r"^\d{20}$"
    assert "sort as strings" in sequence["description"] and "int(sequence)" in sequence["description"]


def _inline(node, doc: dict, base: Path):
    """The payload with every $ref replaced by its target (files relative to the document)."""
    if isinstance(node, list):
        return [_inline(n, doc, base) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref.startswith("#/"):
            target = doc
            for part in ref[2:].split("/"):
                target = target[part]
            return _inline(copy.deepcopy(target), doc, base)
        return json.loads((base / ref).read_text(encoding="utf-8"))
    return {k: _inline(v, doc, base) for k, v in node.items()}


def test_the_events_the_platform_builds_validate_against_the_document():
    from tests.support import drive_year, memory_app
    app = memory_app()
    drive_year(app, households=3)
    events = [contract.as_dict(e) for e in contract.to_cloudevents(
        app, app.recorder.select_notifications(start=1, limit=200))]
    doc = _committed()
    seen = set()
    for event in events:
        message = doc["components"]["messages"][f"social_assistance.{event['type']}"]
        payload = _inline(message["payload"], doc, DOCUMENT.parent)
        Draft202012Validator(payload, format_checker=FormatChecker()).validate(event)
        seen.add(event["type"])
    assert len(seen) >= 5
    wrong = {**events[0], "sequence": str(int(events[0]["sequence"]))}  # not zero-padded
    message = doc["components"]["messages"][f"social_assistance.{events[0]['type']}"]
    validator = Draft202012Validator(_inline(message["payload"], doc, DOCUMENT.parent))
    assert not validator.is_valid(wrong)


def test_asyncapi_parser_accepts_the_document(node_parser):
    done = _validate(DOCUMENT)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["valid"] and summary["version"] == "3.0.0"
    assert {f"{d}.events" for d in domains.names()} | {"subscriptionWebhook", "subscriptionQueue"} \
        == set(summary["channels"])


def _refs_from(node, folder: Path):
    """The document's file refs rewritten relative to another folder."""
    if isinstance(node, dict):
        return {k: (os.path.relpath((DOCUMENT.parent / v).resolve(), folder)
                    if k == "$ref" and not v.startswith("#") else _refs_from(v, folder))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_refs_from(n, folder) for n in node]
    return node


def test_asyncapi_parser_refuses_broken_documents(node_parser, tmp_path):
    moved = tmp_path / "asyncapi.yaml"
    moved.write_text(DOCUMENT.read_text(encoding="utf-8"))  # relative refs now point nowhere
    done = _validate(moved)
    assert done.returncode == 1 and "invalid-ref" in done.stderr

    doc = _refs_from(_committed(), tmp_path)
    sound = tmp_path / "sound.yaml"
    sound.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert _validate(sound).returncode == 0, "the same document with its refs moved along is valid"

    for name, path, breaks in (
            ("action", "operations/deliverToWebhook/action",
             lambda d: d["operations"]["deliverToWebhook"].update(action="publish")),  # AsyncAPI 2 wording
            ("foreign message", "operations/deliverToQueue/messages",  # not of its channel
             lambda d: d["operations"]["deliverToQueue"].update(
                 messages=[{"$ref": "#/channels/subscriptionWebhook/messages/webhookEvent"}]))):
        broken_doc = copy.deepcopy(doc)
        breaks(broken_doc)
        broken = tmp_path / f"broken-{name}.yaml"
        broken.write_text(yaml.safe_dump(broken_doc, sort_keys=False))
        done = _validate(broken)
        assert done.returncode == 1, name
        diagnostics = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert any(d["path"].startswith(path) for d in diagnostics), done.stderr


@pytest.mark.parametrize("name", ["webhookEvent", "webhookBatch"])
def test_the_webhook_example_is_valid_and_its_signature_the_independent_signers(name):
    from datetime import datetime, timezone

    from standardwebhooks.webhooks import Webhook
    doc = _committed()
    message = doc["components"]["messages"][name]
    (example,) = message["examples"]
    for part in ("headers", "payload"):
        schema = _inline(message[part], doc, DOCUMENT.parent)
        Draft202012Validator(schema, format_checker=FormatChecker()).validate(example[part])
    headers = example["headers"]
    at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)
    body = asyncapi.example_body(example["payload"])
    assert Webhook(asyncapi.EXAMPLE_SECRET).sign(headers["webhook-id"], at, body) \
        == headers["webhook-signature"]
    assert asyncapi.EXAMPLE_SECRET in example["summary"]
    events = example["payload"] if name == "webhookBatch" else [example["payload"]]
    assert all("actor" not in e for e in events)  # reduced scope


def test_check_mode_tells_a_stale_file(tmp_path, monkeypatch, capsys):
    assert asyncapi.main(["--check"]) == 0
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(DOCUMENT.read_text(encoding="utf-8").replace("3.0.0", "3.0.1", 1))
    monkeypatch.setattr(asyncapi, "OUTPUT", stale)
    assert asyncapi.main(["--check"]) == 1
    assert "differs" in capsys.readouterr().out

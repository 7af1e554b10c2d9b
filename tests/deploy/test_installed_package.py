"""The platform as the image installs it, not as the checkout holds it.

deploy/Dockerfile copies pyproject.toml, services/ and shared/ into a build stage and runs
`pip install .`, then copies data/ and deploy/ next to the virtualenv; docs/ and tests/ are not
in the image. Before the event schemas moved into the domain folders, shared/contract.py looked
for them in docs/schemas next to the sources (SCHEMA_DIR = <shared>/../docs/schemas): in the
image that was <site-packages>/docs/schemas, which does not exist, so every event would have
raised UnknownSchema and the containerised projection would have dead-lettered all of them.

These tests build the wheel from exactly what the Dockerfile copies, install it into a directory
of its own, and run from a working directory laid out like the image's /app (the Dockerfile's
final-stage copies, REFERENCE_DATA_DIR pointing at them), with that directory first on
PYTHONPATH. They check that the installed `shared.schemas.validate` accepts a real event of each
domain, and run the projection process itself (`python -m services.projection`) from the
install against the session's database and vhost: a published event is applied to the read
model and nothing is dead-lettered. They fail if pyproject's package-data is dropped (the last
test shows it).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import amqp
import pytest

from shared import contract, domains
from tests.deploy import test_manifests as manifests

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
QUEUE = "projection.read_model"   # services.projection's queues: QUEUE.<source>, QUEUE.dead-letter


# --- the image, without Docker -----------------------------------------------------------------
def stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, per build stage."""
    found: list[list[tuple[str, str]]] = []
    for word, args in manifests.dockerfile_instructions(text):
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, args))
    return found


def copy_context(stage: list[tuple[str, str]], source: Path, into: Path) -> Path:
    """Do a stage's COPYs from the build context under `into` (its absolute paths re-rooted
    there); returns the stage's last WORKDIR, re-rooted."""
    workdir = Path("/")
    for word, args in stage:
        if word == "WORKDIR":
            workdir = workdir / args
        if word == "COPY" and "--from" not in args:
            *paths, dest = manifests.copy_arguments(args)
            target = into / (workdir / dest).relative_to("/")
            for path in paths:
                origin = source / path
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    destination = target / origin.name if dest.endswith("/") or dest in (".", "./") \
                        else target
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(origin, destination)
    return into / workdir.relative_to("/")


def image_env(stage: list[tuple[str, str]], image_root: Path) -> dict[str, str]:
    """The final stage's ENV settings, with paths under / re-rooted at image_root."""
    env = {}
    for word, args in stage:
        if word == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", args):
                if key != "PATH":
                    env[key] = str(image_root / value[1:]) if value.startswith("/app") else value
    return env


def install_like_the_image(tmp: Path, source: Path = ROOT) -> tuple[Path, Path, dict]:
    """(site directory, working directory, environment) of the platform installed the way the
    Dockerfile installs it."""
    build, final = stages((source / "deploy" / "Dockerfile").read_text())[0], \
        stages((source / "deploy" / "Dockerfile").read_text())[-1]
    src = copy_context(build, source, tmp / "build")
    assert (src / "pyproject.toml").is_file(), "the build stage must copy pyproject.toml"
    wheels, site = tmp / "wheels", tmp / "site"
    pip = [sys.executable, "-m", "pip", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "-w", wheels, src], capture_output=True, text=True)
    assert built.returncode == 0, f"pip wheel failed:\n{built.stderr}"
    (wheel,) = wheels.glob("*.whl")
    done = subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], capture_output=True,
                          text=True)
    assert done.returncode == 0, f"pip install --target failed:\n{done.stderr}"
    app = copy_context(final, source, tmp / "image")
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", domains.EXTRA_ENV)},
           **image_env(final, tmp / "image"), "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1"}
    return site, app, env


# A script run by the installed copy: where each module came from, and what validate says.
CHECK = """
import json, sys
import shared, shared.schemas, services, services.projection
from shared import domains
site = sys.argv[1]
for module in (shared, shared.schemas, services, services.projection):
    assert module.__file__.startswith(site), f"{module.__name__} imported from {module.__file__}"
result = {"types": {d.name: sorted(shared.schemas.known_types(d.name)) for d in domains.registered()},
          "validated": [], "refused": []}
for event in json.load(open(sys.argv[2])):
    try:
        shared.schemas.validate(event)
        result["validated"].append(event["type"])
    except shared.schemas.SchemaViolation as error:
        result["refused"].append(f"{type(error).__name__}: {error}")
print(json.dumps(result))
"""


def first_events() -> dict[str, dict]:
    """A real event of each registered domain that this test knows how to make one for: the
    first its application publishes after one command (in memory), as the relay publishes it."""
    from tests.contract_support import publish_log
    recipes = {}

    def social_assistance():
        from tests.support import member, memory_app
        app = memory_app()
        app.register_household("beigang", "urban", [member("户主")])
        return app

    def disaster_relief():
        from tests.disaster_relief.dr_support import memory_app
        app = memory_app()
        app.deposit("xinzha", "21000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
        return app

    def welfare():
        from tests.welfare.welfare_support import memory_welfare
        app = memory_welfare()
        app.register_institution("yonghong", "永红街道敬老院", "public", 2, "2003-04-01")
        return app
    def social_affairs():
        from tests.social_affairs.sa_support import memory_app, plan_halls
        app = memory_app()
        plan_halls(app)
        return app

    def military_support():
        from tests.military_support.ms_support import memory_app, register
        app = memory_app()
        register(app)
        return app

    def conduct_supervision():
        from tests.conduct_supervision.cs_support import appoint, memory_app
        app = memory_app()
        appoint(app)
        return app
    def community():
        from tests.community.cm_support import memory_app
        app = memory_app()
        app.register_community("beigang", "北港社区", "2005-01-01")
        return app
    recipes = {"social_assistance": social_assistance, "disaster_relief": disaster_relief,
               "welfare": welfare, "social_affairs": social_affairs, "military_support": military_support,
               "conduct_supervision": conduct_supervision, "community": community}
    events = {}
    for domain in domains.registered():
        if domain.name in recipes:
            events[domain.name] = publish_log(recipes[domain.name](), domain.name)[0]
    return events


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_like_the_image(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def events():
    return first_events()


def run_check(installed, events: list[dict], tmp: Path) -> dict:
    site, app, env = installed
    (tmp / "events.json").write_text(json.dumps(events))
    result = subprocess.run([sys.executable, "-c", CHECK, str(site), str(tmp / "events.json")],
                            cwd=app, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- tests -------------------------------------------------------------------------------------
def test_the_image_leaves_out_docs_and_tests(installed):
    site, app, _ = installed
    assert not (app / "docs").exists() and not (site / "docs").exists()
    assert not (app / "services").exists(), "the sources are installed, not copied into /app"
    # Reference data the code reads through REFERENCE_DATA_DIR stays a copy of data/.
    for path in ("data/areas.json", "data/standards.json", "data/targets"):
        assert (app / path).exists(), f"the image needs {path}"


def test_every_domain_ships_its_schemas_and_reference_data(installed):
    site, _, _ = installed
    for domain in domains.registered():
        installed_folder = site / Path(*domain.package.split("."))
        for part in ("schemas", "reference"):
            checkout = sorted(p.name for p in (domain.folder / part).glob("*.json"))
            shipped = sorted(p.name for p in (installed_folder / part).glob("*.json"))
            assert shipped == checkout, f"{domain.name}/{part}: package-data in pyproject.toml"


def test_the_installed_validator_accepts_a_real_event_of_each_domain(installed, events, tmp_path):
    assert set(events) == set(domains.names()), \
        "first_events() makes no event for some registered domain: add a recipe"
    result = run_check(installed, list(events.values()), tmp_path)
    assert result["refused"] == []
    assert sorted(result["validated"]) == sorted(e["type"] for e in events.values())
    for domain in domains.registered():
        from shared import schemas
        assert result["types"][domain.name] == sorted(schemas.known_types(domain.name))


class EmptyFeeds(BaseHTTPRequestHandler):
    """Every source's /events feed, with nothing in it: the projection can only learn the
    events from the bus, through its validator."""

    def do_GET(self):
        body = json.dumps({"head": 0, "events": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def queue_state(channel, name: str) -> tuple[int, int] | None:
    try:
        declared = channel.queue_declare(name, passive=True)
    except amqp.exceptions.NotFound:
        return None
    return declared.message_count, declared.consumer_count


def metric(port: int, name: str, **labels) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name) and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_the_installed_projection_applies_published_events_and_dead_letters_none(
        installed, events, fresh_schemas, amqp_uri, tmp_path):
    from services.projection.readmodel import ReadModel
    from shared.bus import AmqpAddress, declare_events_exchange
    from shared.config import settings
    from tests.e2e.platform import free_port
    site, app, env = installed
    feeds = ThreadingHTTPServer(("127.0.0.1", 0), EmptyFeeds)
    threading.Thread(target=feeds.serve_forever, daemon=True).start()
    metrics_port = free_port()
    env = {**env, "AMQP_URI": amqp_uri, "METRICS_PORT": str(metrics_port),
           **{f"{d.name.upper()}_URL": f"http://127.0.0.1:{feeds.server_port}" for d in domains.registered()}}
    # The set-up step, from the install too (schemas, tables; the dibao standards from data/).
    setup = subprocess.run([sys.executable, "-m", "shared.setup"], cwd=app, env=env,
                           capture_output=True, text=True, timeout=180)
    assert setup.returncode == 0, setup.stderr
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    channel = connection.channel()
    for domain in domains.registered():
        declare_events_exchange(channel, domain.name)
    # The session's vhost is shared by the tier: an earlier test's platform may have left events
    # on the projection's durable queues, which this projection would apply too.
    for name in [*events, "dead-letter"]:
        channel.queue_delete(f"{QUEUE}.{name}")
    log = open(tmp_path / "projection.log", "wb")
    projection = subprocess.Popen([sys.executable, "-c",
                                   "import sys, services.projection.__main__ as m; "
                                   f"assert m.__file__.startswith({str(site)!r}), m.__file__; "
                                   "sys.argv = ['projection']; sys.exit(m.main())"],
                                  cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        for name in events:                      # a worker per source, each on its own queue
            while (queue_state(channel, f"{QUEUE}.{name}") or (0, 0))[1] != 1:
                assert projection.poll() is None, (tmp_path / "projection.log").read_text()
                assert time.monotonic() < deadline, f"the projection never consumed {QUEUE}.{name}"
                time.sleep(0.2)
                if queue_state(channel, f"{QUEUE}.{name}") is None:
                    channel = connection.channel()   # a passive declare of a missing queue closes it
        for name, event in events.items():
            message = amqp.Message(json.dumps(event).encode(), content_type=contract.CONTENT_TYPE,
                                   delivery_mode=2, message_id=event["id"])
            channel.basic_publish(message, exchange=f"{name}.events", routing_key=event["type"])
        model = ReadModel.connect(settings())
        deadline = time.monotonic() + 60
        while any(model.position(name) < int(event["sequence"]) for name, event in events.items()):
            assert projection.poll() is None, (tmp_path / "projection.log").read_text()
            assert time.monotonic() < deadline, (
                f"not applied: {[n for n, e in events.items() if model.position(n) < int(e['sequence'])]}; "
                f"dead letters: {queue_state(channel, QUEUE + '.dead-letter')}\n"
                + (tmp_path / "projection.log").read_text())
            time.sleep(0.2)
        # Tracked per source (above), and rows written (not every first event makes a row of its
        # own: some only prepare what later events fill in).
        rows = sum(len(model.table_rows(table)) for table in model.tables)
        assert rows > 0, "the events were tracked but no read-model row was written"
        assert queue_state(channel, QUEUE + ".dead-letter")[0] == 0
        assert not metric(metrics_port, "projection_dead_letters_total")
        for name in events:
            assert metric(metrics_port, "projection_applied_events_total", source=name) == 1.0
    finally:
        os.killpg(projection.pid, 15)
        projection.wait(20)
        feeds.shutdown()
        # the e2e platform starts from no queue
        for name in (*(f"{QUEUE}.{source}" for source in events), QUEUE + ".dead-letter"):
            try:
                channel.queue_delete(name)
            except amqp.exceptions.AMQPError:
                channel = connection.channel()
        connection.close()


def test_without_package_data_the_installed_validator_finds_no_schema(tmp_path, events):
    source = tmp_path / "checkout"
    source.mkdir()
    for path in ("pyproject.toml", "services", "shared", "data", "deploy"):
        origin = ROOT / path
        (shutil.copytree(origin, source / path, ignore=shutil.ignore_patterns("__pycache__"))
         if origin.is_dir() else shutil.copy(origin, source / path))
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text()
    assert "[tool.setuptools.package-data]" in text
    pyproject.write_text(re.sub(r"\[tool\.setuptools\.package-data\]\n(?:[^\n]+\n)*", "", text))
    result = run_check(install_like_the_image(tmp_path / "image", source), list(events.values()), tmp_path)
    assert result["validated"] == [] and len(result["refused"]) == len(events)
    assert all(line.startswith("UnknownSchema") for line in result["refused"]), result["refused"]

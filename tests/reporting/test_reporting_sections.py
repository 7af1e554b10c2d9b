"""The section interface (shared/report_kit.py) and reporting as a generic runner over the
registered domains: no framework in read-model and report modules, no metric name declared
twice, a section without its relations does not blank the others, every section read from one
snapshot, and a domain registered only by a test is reported without any edit to reporting."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from prometheus_client.core import GaugeMetricFamily

from services.reporting.application import METRICS as OWN
from services.reporting.application import Reporting, registered_sections
from shared import domains
from shared.report_kit import declared_twice, exposed_labels, fetch

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("eventsourcing", "nameko")


def fake_section(relations=(), metric="fake_section_rows", read=None) -> SimpleNamespace:
    """A section as small as the interface allows: one gauge, the rows `read` returns."""
    def build(data, ctx, missing):
        return {"initialised": not missing, "missing": missing, "rows": data}

    def families(section, ctx):
        if section is None:
            return []
        family = GaugeMetricFamily(metric, "rows of the fake section")
        family.add_metric([], len(section["rows"] or []))
        return [family]
    return SimpleNamespace(RELATIONS=tuple(relations), TARGETS=(), METRICS={metric: ("rows", ())},
                           read=read or (lambda curs, ctx: []), build=build, families=families)


@pytest.mark.parametrize("part", ["readmodel", "report"])
@pytest.mark.parametrize("domain", [d.name for d in domains.registered()])
def test_read_model_and_report_modules_import_no_framework(domain, part):
    module = getattr(domains.get(domain), part)
    if module is None:
        pytest.skip(f"{domain} declares no {part}")
    module = module.partition(":")[0]
    code = textwrap.dedent(f"""
        import importlib, sys
        importlib.import_module({module!r})
        print(",".join(m for m in {FRAMEWORKS!r} if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing {module} imports {result.stdout.strip()}"


def test_the_reporting_runner_itself_imports_no_framework():
    code = ("import sys, services.reporting.application, shared.report_kit; "
            f"print(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_every_registered_domain_has_its_section_and_reporting_names_none():
    sections = registered_sections()
    assert list(sections) == [d.name for d in domains.with_part("report")]
    for section in sections.values():
        for attribute in ("RELATIONS", "TARGETS", "METRICS", "read", "build", "families"):
            assert hasattr(section, attribute), (section.__name__, attribute)
    for path in (ROOT / "services" / "reporting").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in [*domains.names(), "dibao"]:
            assert name not in text, f"{path.relative_to(ROOT)} names {name}"


def test_no_two_sections_declare_the_same_metric():
    assert declared_twice(registered_sections(), OWN) == {}
    names = [n for s in registered_sections().values() for n in exposed_labels(s.METRICS)]
    assert len(names) == len(set(names))


def test_reporting_refuses_two_sections_with_one_metric():
    with pytest.raises(RuntimeError, match="fake_section_rows"):
        Reporting(lambda: None, sections={"one": fake_section(), "two": fake_section()})
    with pytest.raises(RuntimeError, match="reporting_targets_found"):
        Reporting(lambda: None, sections={"one": fake_section(metric="reporting_targets_found")})


def test_a_section_without_its_relations_does_not_blank_the_others(conninfo, scenario):
    def never(curs, ctx):
        raise AssertionError("a section whose relations are missing is not read")
    sections = {**registered_sections(), "fake": fake_section(["cases", "no_such_relation"], read=never)}
    reporting = Reporting(lambda: psycopg.connect(conninfo), sections=sections)
    report = reporting.report(2007)
    assert report["domains"] == [*registered_sections(), "fake"]
    assert report["fake"] == {"initialised": False, "missing": ["no_such_relation"], "rows": None}
    assert report["social_assistance"]["read_model"]["initialised"] is True
    assert report["social_assistance"]["areas"]["beigang"]["metrics"]["active_cases"]["value"] == 4
    families = {f.name: f for f in reporting.metrics(2007)}
    assert families["reporting_read_model_initialised"].samples[0].value == 0
    assert {s.labels["area"]: s.value for s in families["dibao_active_cases"].samples}["beigang"] == 4
    assert families["fake_section_rows"].samples[0].value == 0
    health = reporting.health()
    assert health["domains"]["fake"] == {"initialised": False, "missing": ["no_such_relation"]}
    assert health["domains"]["social_assistance"] == {"initialised": True, "missing": []}


def test_every_section_reads_the_same_snapshot(conninfo, scenario):
    def snapshot(curs, ctx):
        return fetch(curs, ctx.schema, """SELECT pg_backend_pid() AS pid, now()::text AS started,
                                                 current_setting('transaction_isolation') AS isolation,
                                                 current_setting('transaction_read_only') AS read_only""")
    sections = {"first": fake_section(read=snapshot), "second": fake_section(metric="other", read=snapshot)}
    report = Reporting(lambda: psycopg.connect(conninfo), sections=sections).report(2007)
    assert report["first"]["rows"] == report["second"]["rows"]
    assert report["first"]["rows"][0]["isolation"] == "repeatable read"
    assert report["first"]["rows"][0]["read_only"] == "on"


def test_a_domain_registered_only_by_a_test_is_reported(conninfo, scenario, tmp_path, monkeypatch):
    package = tmp_path / "tiny_domain"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        from shared.domains import Domain
        DOMAIN = Domain(name="tiny", title="a test's domain", package="tiny_domain",
                        application="tiny_domain:Nothing", readmodel="tiny_domain.report",
                        report="tiny_domain.report")
    """), encoding="utf-8")
    (package / "report.py").write_text(textwrap.dedent("""
        from prometheus_client.core import GaugeMetricFamily
        RELATIONS = ("cases",)
        TARGETS = ()
        METRICS = {"tiny_cases": ("cases the tiny section counts", ())}

        def read(curs, ctx):
            curs.execute(f'SELECT count(*) AS n FROM "{ctx.schema}".cases')
            return curs.fetchone()["n"]

        def build(data, ctx, missing):
            return {"cases": data or 0, "initialised": not missing}

        def families(section, ctx):
            if section is None:
                return []
            return [GaugeMetricFamily("tiny_cases", "cases", value=section["cases"])]
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(domains.EXTRA_ENV, "tiny_domain")
    reporting = Reporting(lambda: psycopg.connect(conninfo))
    report = reporting.report(2007)
    assert report["domains"][-1] == "tiny" and report["tiny"] == {"cases": 10, "initialised": True}
    assert report["social_assistance"]["district"]["metrics"]["active_cases"]["value"] == 6
    assert {f.name: f for f in reporting.metrics(2007)}["tiny_cases"].samples[0].value == 10

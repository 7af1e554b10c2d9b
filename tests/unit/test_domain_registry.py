"""The registry of domains: each domain declares itself once; the runners refuse inconsistencies."""
from __future__ import annotations

import types

import pytest

from services.projection.readmodel import relations
from shared import domains
from shared.config import ConfigurationError


def source(name: str, tables: dict, views: dict | None = None) -> types.ModuleType:
    module = types.ModuleType(f"{name}_readmodel")
    module.SOURCE, module.TABLES, module.VIEWS, module.HANDLERS = name, tables, views or {}, {}
    return module


def test_every_registered_domain_declares_its_parts_by_convention():
    for domain in domains.registered():
        assert domain.package == f"services.{domain.name}"
        for part in domains.PARTS:
            assert getattr(domain, part) == f"{domain.package}.{part}", (domain.name, part)
        assert domain.schema_dir.is_dir() and any(domain.schema_dir.glob("*.v1.json"))
        assert domain.load("readmodel").SOURCE == domain.name


def test_host_ports_are_unique():
    ports = [p for d in domains.registered() for p in (d.http_port, d.relay_port)]
    assert len(ports) == len(set(ports))


def test_the_projection_refuses_two_domains_declaring_the_same_table():
    first = source("alpha", {"people": "id int"})
    second = source("beta", {"people": "id int"})
    with pytest.raises(ConfigurationError, match=r"table 'people' of beta is already declared by alpha"):
        relations([first, second])


def test_the_projection_refuses_a_view_named_like_a_table_or_its_own_tables():
    with pytest.raises(ConfigurationError, match="view 'people'"):
        relations([source("alpha", {"people": "id int"}), source("beta", {}, {"people": "SELECT 1"})])
    with pytest.raises(ConfigurationError, match="notification_tracking"):
        relations([source("alpha", {"notification_tracking": "id int"})])


def test_the_registered_read_models_declare_disjoint_relations():
    tables, views = relations(d.load("readmodel") for d in domains.registered())
    assert tables and views


def test_an_unknown_domain_is_named_with_what_is_registered():
    with pytest.raises(domains.RegistryError, match="registered: social_assistance"):
        domains.get("no_such_domain")


def test_a_test_can_register_a_domain_through_the_environment(monkeypatch):
    monkeypatch.setenv(domains.EXTRA_ENV, "tests.sample_domain")
    assert domains.names()[-1] == "volunteering"
    assert domains.get("volunteering").report == "tests.sample_domain.report"
    monkeypatch.delenv(domains.EXTRA_ENV)
    assert "volunteering" not in domains.names()

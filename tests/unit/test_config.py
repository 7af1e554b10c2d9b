"""Settings: the cipher key is required only where an event store is opened, so the processes
that never read the event store (the projection, reporting) run without it."""
import pytest

from services.social_assistance.application import SocialAssistance
from shared.config import ConfigurationError, settings


def test_a_process_without_an_event_store_needs_no_cipher_key():
    cfg = settings({"POSTGRES_DBNAME": "civil_affairs_x"})
    assert cfg.cipher_key == "" and cfg.pg_dbname == "civil_affairs_x"


def test_opening_an_event_store_without_the_key_says_how_to_make_one():
    with pytest.raises(ConfigurationError, match=r"CIPHER_KEY is not set.*python -m shared\.keys"):
        settings({}).eventsourcing_env()


def test_a_service_without_the_key_does_not_start(monkeypatch):
    monkeypatch.delenv("CIPHER_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="CIPHER_KEY"):
        SocialAssistance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

"""Helpers of the disaster relief tests: the application on in-memory or real persistence, with a
fixed clock (the last day of 2007, local time), and impact figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eventsourcing.cipher import AESCipher

LOCAL = timezone(timedelta(hours=8))
NOW = datetime(2007, 12, 31, 12, 0, tzinfo=LOCAL)


def memory_app(now: datetime = NOW):
    from services.disaster_relief.application import DisasterRelief
    return DisasterRelief({"PERSISTENCE_MODULE": "eventsourcing.popo",
                           "CIPHER_KEY": AESCipher.create_key(32)}, now=lambda: now)


def postgres_app(now: datetime = NOW):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.disaster_relief.application import DisasterRelief
    return DisasterRelief(now=lambda: now)


def figures(deaths=0, missing=0, relocated=0, houses_damaged=0, direct_loss="0.00") -> dict:
    return {"deaths": deaths, "missing": missing, "relocated": relocated,
            "houses_damaged": houses_damaged, "direct_loss": direct_loss}


def stored_types(app) -> list[str]:
    """Event types in the notification log, in order."""
    from shared import contract
    return [contract.type_of(app.mapper.to_domain_event(n))
            for n in app.recorder.select_notifications(start=1, limit=100000)]

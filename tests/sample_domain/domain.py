"""Domain layer of the test-only domain: volunteers of a community and the hours they give.

Small on purpose: it exists to show that a domain is its folder plus one registry entry. No
framework, no I/O, no clock.
"""
from __future__ import annotations

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.errors import InvalidInput


class Volunteer(AuditedAggregate):
    """A registered volunteer of an area and the hours given so far."""

    @event("Registered")
    def __init__(self, area: str, skill: str):
        self.area = area
        self.skill = skill
        self.hours = 0

    def log_hours(self, hours: int, day: str) -> None:
        if hours < 1 or hours > 24:
            raise InvalidInput("hours", "must be 1 to 24 hours a day", code="volunteering.hours_per_day")
        self._hours_logged(hours, day)

    @event("HoursLogged")
    def _hours_logged(self, hours: int, day: str) -> None:
        self.hours += hours

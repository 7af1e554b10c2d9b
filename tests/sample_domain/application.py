"""Application layer of the test-only domain: commands in primitives over the event store."""
from __future__ import annotations

from eventsourcing.utils import get_topic

from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.referencedata import ReferenceData
from tests.sample_domain.domain import Volunteer


class Volunteering(PlatformApplication):
    name = "volunteering"

    def __init__(self, env=None):
        super().__init__(env)
        self.reference = ReferenceData.load()

    def register_volunteer(self, area: str, skill: str) -> str:
        volunteer = Volunteer(self.reference.check_area(area), skill)
        self.save(volunteer)
        return str(volunteer.id)

    @retry_on_conflict
    def log_hours(self, volunteer_id: str, hours: int, day: str) -> int:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer_id")
        volunteer.log_hours(hours, day)
        self.save(volunteer)
        return volunteer.hours

    def count_volunteers(self) -> int:
        """Registrations in the event store (a test domain's query: no read model of its own)."""
        return len(self.recorder.select_notifications(start=1, limit=1_000_000,
                                                      topics=[get_topic(Volunteer.Registered)]))

    def get_volunteer(self, volunteer_id: str) -> dict:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer_id")
        return {"volunteer_id": str(volunteer.id), "area": volunteer.area,
                "skill": volunteer.skill, "hours": volunteer.hours}

"""Application layer of conduct supervision: commands and queries in primitives.

Takes strings, ints, booleans and lists; returns dicts of primitives. Looks up reference data
(areas in data/areas.json, the rules in services/conduct_supervision/reference/), loads
aggregates, calls the domain, saves every changed aggregate in one atomic write. The clock is
injected (`today`). Personal data (a supervisor's identity number and phone, a complainant's
name and phone) is encrypted at rest with every event body, masked in answers unless revealed
(the service records each reveal as a Disclosure) and never published (shared/contract.py).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from eventsourcing.utils import get_topic

from services.conduct_supervision.domain import (
    COMPLAINT_KINDS, REVIEWER_KINDS, SUBJECT_KINDS, Complaint, EfficiencyAssessment, Officer,
    Review, Roster, Supervisor, Visit, add_days, check_officer_id, check_period, check_phone, check_score,
    check_term, mask_name, mask_phone)
from services.conduct_supervision.rules import ConductRules
from shared import checks, identity
from shared.checks import check_choice, check_text
from shared.errors import Conflict, InvalidInput, NotFound
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import parse_date
from shared.referencedata import ReferenceData


class ConductSupervision(PlatformApplication):
    name = "conduct_supervision"
    snapshotting_intervals = {Roster: 50, Officer: 50, Supervisor: 50, Complaint: 50}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: ConductRules | None = None, today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or ConductRules.load()
        self.today = today

    # --- supervisors ----------------------------------------------------------------------------

    @retry_on_conflict
    def appoint_supervisor(self, area: str, community: str, id_number: str, name: str, phone: str,
                           appointed_on: str, term_end: str) -> str:
        """A conduct supervisor recruited from a community or village of the area, for a term
        from the appointment to `term_end` (inclusive); returns the supervisor's id."""
        self.reference.check_area(area)
        self.rules.community(community, area)
        number = identity.validate(id_number, "id_number")
        key = identity.pseudonym(number, self.pseudonym_key)
        if self._exists(Supervisor.create_id(key)):
            raise Conflict("id_number", "this person is already a conduct supervisor (renew the term)",
                           code="conduct.already_appointed")
        start = self._day(appointed_on, "appointed_on")
        end = parse_date(term_end, "term_end").isoformat()
        check_term(start, end, self.rules.max_term_years(start))
        supervisor = Supervisor(person_key=key, id_number=number, name=check_text(name, "name", "person's name"),
                                phone=check_phone(phone), area=area, community=community,
                                appointed_on=start, term_start=start, term_end=end)
        self.save(supervisor)
        return str(supervisor.id)

    @retry_on_conflict
    def renew_supervisor(self, supervisor_id: str, renewed_on: str, term_end: str) -> dict:
        supervisor = self._get(Supervisor, supervisor_id, "supervisor_id")
        day = self._day(renewed_on, "renewed_on")
        supervisor.renew(day, parse_date(term_end, "term_end").isoformat(), self.rules.max_term_years(day))
        self.save(supervisor)
        return self._supervisor_view(supervisor, False)

    @retry_on_conflict
    def dismiss_supervisor(self, supervisor_id: str, dismissed_on: str, reason: str) -> dict:
        supervisor = self._get(Supervisor, supervisor_id, "supervisor_id")
        supervisor.dismiss(self._day(dismissed_on, "dismissed_on"), reason)
        self.save(supervisor)
        return self._supervisor_view(supervisor, False)

    def get_supervisor(self, supervisor_id: str, reveal_identity: bool = False) -> dict:
        return self._supervisor_view(self._get(Supervisor, supervisor_id, "supervisor_id"), reveal_identity)

    # --- officers and the roster ------------------------------------------------------------------

    @retry_on_conflict
    def register_officer(self, officer_id: str, name: str, department: str, joined_on: str) -> str:
        officer_id = check_officer_id(officer_id)
        if self._exists(Officer.create_id(officer_id)):
            raise Conflict("officer_id", f"officer {officer_id} is already registered",
                           code="conduct.officer_exists")
        officer = Officer(officer_id=officer_id, name=check_text(name, "name", "officer's name"),
                          department=check_text(department, "department", "department"),
                          joined_on=self._day(joined_on, "joined_on"))
        roster = self._roster()
        roster.add_officer(officer_id, officer.joined_on)
        self.save(officer, roster)
        return officer_id

    @retry_on_conflict
    def officer_leaves(self, officer_id: str, left_on: str, reason: str) -> dict:
        """The officer leaves the bureau: their communities are released the same day."""
        officer = self._officer(officer_id)
        officer.leave(self._day(left_on, "left_on"), reason)
        roster = self._roster()
        roster.remove_officer(officer.officer_id, officer.left_on)
        self.save(officer, roster)
        return self._officer_view(officer, roster)

    @retry_on_conflict
    def assign_community(self, officer_id: str, community: str, assigned_on: str) -> dict:
        """The officer is the contact of a community or village (分头联系社区(村))."""
        officer = self._officer(officer_id)
        entry = self.rules.community(community)
        day = self._day(assigned_on, "assigned_on")
        officer.require_serving(day, "assigned_on")
        roster = self._roster()
        roster.assign(community, entry["area"], officer.officer_id, day)
        self.save(roster)
        return self._officer_view(officer, roster)

    @retry_on_conflict
    def release_community(self, community: str, released_on: str) -> dict:
        self.rules.community(community)
        roster = self._roster()
        roster.release(community, self._day(released_on, "released_on"))
        self.save(roster)
        return {"community": community, "officer_id": None}

    def get_officer(self, officer_id: str) -> dict:
        return self._officer_view(self._officer(officer_id), self._roster())

    def contacts(self) -> dict:
        """Every community and village with its contact officer (None: nobody assigned), and
        the serving officers without a community."""
        roster = self._roster()
        communities = [{"community": code, "area": e["area"], "name": e["name"], "kind": e["kind"],
                        "officer_id": (roster.communities.get(code) or {}).get("officer_id")}
                       for code, e in sorted(self.rules.communities.items())]
        assigned = {c["officer_id"] for c in communities if c["officer_id"]}
        return {"communities": communities,
                "officers_without_community": sorted(set(roster.officers) - assigned)}

    # --- the eight prohibitions and the year-end assessment --------------------------------------

    @retry_on_conflict
    def record_breach(self, officer_id: str, prohibition: str, occurred_on: str, description: str) -> dict:
        officer = self._officer(officer_id)
        number = officer.record_breach(self.rules.check_prohibition(prohibition),
                                       self._day(occurred_on, "occurred_on"), description)
        self.save(officer)
        return {"officer_id": officer.officer_id, "breach_no": number}

    @retry_on_conflict
    def handle_breach(self, officer_id: str, breach_no: int, measure: str, handled_on: str, note: str) -> dict:
        officer = self._officer(officer_id)
        officer.handle_breach(breach_no, self.rules.check_measure(measure), self._day(handled_on, "handled_on"), note)
        self.save(officer)
        return self._officer_view(officer, self._roster())

    @retry_on_conflict
    def assess_officer(self, officer_id: str, year: int, integrity: str, ability: str, diligence: str,
                       results: str, assessed_on: str) -> dict:
        """The year-end assessment (德能勤绩): the overall grade by the rule in force at the
        year's end; an officer with a breach in the year is never excellent."""
        officer = self._officer(officer_id)
        year = self._year(year)
        grades = self.rules.check_grades({"integrity": integrity, "ability": ability,
                                          "diligence": diligence, "results": results})
        overall, rewarded, rule_from = self.rules.overall(grades, year)
        officer.assess(year, grades, overall, rewarded, self._day(assessed_on, "assessed_on"), rule_from,
                       "excellent")
        self.save(officer)
        return dict(officer.assessments[str(year)], officer_id=officer.officer_id, year=year)

    def rewards(self, year: int) -> dict:
        """The year's rewards list (评先评优): serving officers whose assessment earns a reward."""
        year = self._year(year)
        listed, assessed = [], 0
        for officer_id in sorted(self._roster().officers):
            officer = self._officer(officer_id)
            found = officer.assessments.get(str(year))
            if found:
                assessed += 1
                if found["rewarded"]:
                    listed.append({"officer_id": officer_id, "name": officer.name,
                                   "department": officer.department, "overall": found["overall"]})
        return {"year": year, "assessed": assessed, "rewarded": listed}

    # --- visits --------------------------------------------------------------------------------------

    @retry_on_conflict
    def record_visit(self, officer_id: str, community: str, visited_on: str, opinions: list) -> str:
        """A visit by the officer assigned to the community on that day, with the opinions heard."""
        officer = self._officer(officer_id)
        entry = self.rules.community(community)
        day = self._day(visited_on, "visited_on")
        officer.require_serving(day, "visited_on")
        heard = Visit.check_visit(officer.officer_id, community, day,
                                  self._roster().contact_on(community, day), opinions)
        visit = Visit(officer_id=officer.officer_id, community=community, area=entry["area"],
                      visited_on=day, opinions=heard)
        self.save(visit)
        return str(visit.id)

    @retry_on_conflict
    def follow_up_opinion(self, visit_id: str, opinion_no: int, follow_up: str, followed_up_on: str) -> dict:
        visit = self._get(Visit, visit_id, "visit_id")
        visit.follow_up(opinion_no, follow_up, self._day(followed_up_on, "followed_up_on"))
        self.save(visit)
        return self.get_visit(visit_id)

    def get_visit(self, visit_id: str) -> dict:
        v = self._get(Visit, visit_id, "visit_id")
        return {"visit_id": str(v.id), "officer_id": v.officer_id, "community": v.community, "area": v.area,
                "visited_on": v.visited_on,
                "opinions": [{"opinion_no": n, "opinion": text, **(v.follow_ups.get(str(n)) or {})}
                             for n, text in enumerate(v.opinions, 1)]}

    # --- public reviews ------------------------------------------------------------------------------

    @retry_on_conflict
    def record_review(self, subject_kind: str, subject: str, reviewer_kind: str, reviewer: str | None,
                      score: int, comment: str, reviewed_on: str) -> str:
        """A public review (民主评议) of a window or an officer by a resident, a supervisor or an
        officer (never of themselves); returns its id."""
        check_choice(subject_kind, SUBJECT_KINDS, "subject_kind")
        check_choice(reviewer_kind, REVIEWER_KINDS, "reviewer_kind")
        day = self._day(reviewed_on, "reviewed_on")
        area = self._subject_area(subject_kind, subject)
        Review.check_reviewer(subject_kind, subject, reviewer_kind, reviewer)
        if reviewer_kind == "supervisor":
            supervisor = self._get(Supervisor, reviewer, "reviewer")
            if not supervisor.active_on(day):
                raise Conflict("reviewer", f"the supervisor is {supervisor.status_on(day)} on {day}",
                               code="conduct.supervisor_not_active")
            reviewer = str(supervisor.id)
        elif reviewer_kind == "officer":
            self._officer(reviewer, "reviewer").require_serving(day, "reviewed_on")
        low, high = self.rules.scale_on(day)
        review = Review(subject_kind=subject_kind, subject=subject, area=area, reviewer_kind=reviewer_kind,
                        reviewer=reviewer, score=check_score(score, low, high),
                        comment=check_text(comment, "comment", "comment"), reviewed_on=day)
        self.save(review)
        return str(review.id)

    def get_review(self, review_id: str) -> dict:
        r = self._get(Review, review_id, "review_id")
        return {"review_id": str(r.id), "subject_kind": r.subject_kind, "subject": r.subject, "area": r.area,
                "reviewer_kind": r.reviewer_kind, "reviewer": r.reviewer, "score": r.score,
                "comment": r.comment, "reviewed_on": r.reviewed_on}

    # --- complaints and suggestions ----------------------------------------------------------------------

    @retry_on_conflict
    def receive_complaint(self, kind: str, area: str, subject_kind: str, subject: str, contact_name: str,
                          phone: str, summary: str, received_on: str) -> str:
        """A complaint or suggestion received; its deadline is the handling time in force on
        the day it was received (`get_complaint` shows it). Returns its id."""
        check_choice(kind, COMPLAINT_KINDS, "kind")
        self.reference.check_area(area)
        check_choice(subject_kind, SUBJECT_KINDS, "subject_kind")
        self._subject_area(subject_kind, subject)
        day = self._day(received_on, "received_on")
        rule = self.rules.handling_on(day)
        days = rule[f"{kind}_days"]
        complaint = Complaint(kind=kind, area=area, subject_kind=subject_kind, subject=subject,
                              contact_name=check_text(contact_name, "contact_name", "complainant's name"),
                              phone=check_phone(phone), summary=check_text(summary, "summary", "summary"),
                              received_on=day, deadline=add_days(day, days), handling_days=days,
                              rule_from=rule["effective_from"])
        self.save(complaint)
        return str(complaint.id)

    @retry_on_conflict
    def answer_complaint(self, complaint_id: str, answer: str, answered_on: str, officer_id: str) -> dict:
        complaint = self._get(Complaint, complaint_id, "complaint_id")
        day = self._day(answered_on, "answered_on")
        self._officer(officer_id).require_serving(day, "answered_on")
        complaint.answer(answer, day, officer_id)
        self.save(complaint)
        return self._complaint_view(complaint, False)

    @retry_on_conflict
    def respond_to_answer(self, complaint_id: str, accepted: bool, responded_on: str,
                          outcome: str | None = None) -> dict:
        """The complainant accepts the answer (closed) or not (reopened or escalated, with a new
        deadline from the handling rule in force on the day of the response)."""
        complaint = self._get(Complaint, complaint_id, "complaint_id")
        day = self._day(responded_on, "responded_on")
        rule = self.rules.handling_on(day)
        complaint.respond(accepted, outcome, day, {"reopened": rule["reopened_days"],
                                                   "escalated": rule["escalated_days"]})
        self.save(complaint)
        return self._complaint_view(complaint, False)

    def get_complaint(self, complaint_id: str, reveal_identity: bool = False) -> dict:
        return self._complaint_view(self._get(Complaint, complaint_id, "complaint_id"), reveal_identity)

    # --- window efficiency -------------------------------------------------------------------------------

    @retry_on_conflict
    def assess_window(self, window: str, period: str, method: str, score: int, assessed_on: str,
                      measures: str | None = None) -> str:
        """A window's efficiency assessment (效能考核) for a quarter or half-year; returns its id."""
        entry = self.rules.window(window)
        period = check_period(period)
        day = self._day(assessed_on, "assessed_on")
        if self._exists(EfficiencyAssessment.create_id(window, period)):
            raise Conflict("period", f"window {window} was assessed for {period}",
                           code="conduct.window_already_assessed")
        below = self.rules.measures_below(day)
        measures = EfficiencyAssessment.check(window, period, method, entry["methods"], score, measures,
                                              below, day)
        assessment = EfficiencyAssessment(window=window, area=entry["area"], period=period, method=method,
                                          score=score, measures=measures, rectification=score < below,
                                          assessed_on=day)
        self.save(assessment)
        return str(assessment.id)

    def get_window_assessment(self, window: str, period: str) -> dict:
        self.rules.window(window)
        found = self._find(EfficiencyAssessment.create_id(window, check_period(period)))
        if found is None:
            raise NotFound("period", f"window {window} has no assessment for {period}", code="store.not_found")
        return {"assessment_id": str(found.id), "window": found.window, "area": found.area,
                "period": found.period, "method": found.method, "score": found.score,
                "measures": found.measures, "rectification": found.rectification,
                "assessed_on": found.assessed_on}

    # --- overall -----------------------------------------------------------------------------------------

    def statistics(self) -> dict:
        """Counts from the event store (no read model); the demo asks it how many runs it made."""
        def stored(event_class) -> int:
            return len(self.recorder.select_notifications(start=1, limit=10_000_000,
                                                          topics=[get_topic(event_class)]))
        roster = self._roster()
        return {"supervisors_appointed": stored(Supervisor.Appointed),
                "officers_serving": len(roster.officers), "communities_assigned": len(roster.communities),
                "complaints_received": stored(Complaint.Received), "reviews": stored(Review.Recorded),
                "visits": stored(Visit.Recorded)}

    def rules_in_force(self) -> dict:
        return self.rules.describe(self.today().isoformat())

    # --- helpers -----------------------------------------------------------------------------------------

    def _roster(self) -> Roster:
        return self._find(Roster.ID) or Roster()

    def _officer(self, officer_id, field: str = "officer_id") -> Officer:
        check_officer_id(officer_id, field)
        found = self._find(Officer.create_id(officer_id))
        if found is None:
            raise NotFound(field, f"no officer {officer_id} registered", code="store.not_found")
        return found

    def _subject_area(self, subject_kind: str, subject) -> str | None:
        if subject_kind == "window":
            return self.rules.window(subject)["area"]
        self._officer(subject, "subject")
        return None

    def _year(self, year) -> int:
        if isinstance(year, bool) or not isinstance(year, int) or not 1949 <= year <= 2100:
            raise InvalidInput("year", "must be a year between 1949 and 2100", code="input.year_out_of_range")
        return year

    def _day(self, value, field: str) -> str:
        return checks.past_day(value, field, self.today())

    # --- views -------------------------------------------------------------------------------------------

    def _supervisor_view(self, s: Supervisor, reveal: bool) -> dict:
        today = self.today().isoformat()
        return {"supervisor_id": str(s.id), "area": s.area, "community": s.community, "name": s.name,
                "id_number": s.id_number if reveal else identity.mask(s.id_number),
                "phone": s.phone if reveal else mask_phone(s.phone),
                "appointed_on": s.appointed_on, "term_start": s.term_start, "term_end": s.term_end,
                "terms": [{"start": a, "end": b} for a, b in s.terms], "dismissed_on": s.dismissed_on,
                "status": s.status_on(today), "version": s.version}

    @staticmethod
    def _officer_view(o: Officer, roster: Roster) -> dict:
        return {"officer_id": o.officer_id, "name": o.name, "department": o.department,
                "joined_on": o.joined_on, "left_on": o.left_on,
                "communities": roster.of_officer(o.officer_id),
                "breaches": [dict(b) for b in o.breaches],
                "assessments": {y: dict(a) for y, a in sorted(o.assessments.items())}, "version": o.version}

    def _complaint_view(self, c: Complaint, reveal: bool) -> dict:
        today = self.today().isoformat()
        return {"complaint_id": str(c.id), "kind": c.kind, "area": c.area, "subject_kind": c.subject_kind,
                "subject": c.subject, "contact_name": c.contact_name if reveal else mask_name(c.contact_name),
                "phone": c.phone if reveal else mask_phone(c.phone), "summary": c.summary,
                "received_on": c.received_on, "deadline": c.deadline, "status": c.status,
                "overdue": c.overdue_on(today), "rounds": c.rounds, "escalated": c.escalated,
                "answers": [dict(a) for a in c.answers], "accepted": c.accepted, "version": c.version}


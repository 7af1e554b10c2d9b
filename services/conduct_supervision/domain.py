"""Domain layer of conduct supervision (行风建设): conduct supervisors and their terms, officers
(their breaches of the eight prohibitions and their year-end assessment), the roster of officers
and the communities each is assigned to visit, visits with the opinions heard and their
follow-up, public reviews of windows and officers, complaints and suggestions, and window
efficiency assessments.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. A public command method
validates and then calls a private past-tense `@event` method that only changes state, so a
broken rule raises a typed error and records nothing. Reference data (communities, windows,
handling times, terms, the assessment rule, the prohibitions) is looked up by the application
layer (rules.py) and passed in as values. Dates are ISO strings 'YYYY-MM-DD'. Officers are
identified by their officer id (the gateway's actor), never by an identity number.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.checks import check_text
from shared.errors import Conflict, InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:conduct_supervision")
REVIEWER_KINDS = ("resident", "supervisor", "officer")
SUBJECT_KINDS = ("window", "officer")
COMPLAINT_KINDS = ("complaint", "suggestion")
OUTCOMES = ("reopened", "escalated")
DIMENSIONS = ("integrity", "ability", "diligence", "results")      # 德 能 勤 绩
OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
OFFICER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
PHONE = re.compile(r"^\+?[0-9][0-9-]{5,18}[0-9]$")
PERIOD = re.compile(r"^(\d{4})-(Q[1-4]|H[12])$")


# --- checks on plain input --------------------------------------------------------------------

def check_officer_id(value, field: str = "officer_id") -> str:
    if not isinstance(value, str) or not OFFICER_ID.match(value):
        raise InvalidInput(field, "must be an officer id (letters, digits, . _ @ -; at most 80)",
                           code="conduct.bad_officer_id")
    return value


def check_phone(value, field: str = "phone") -> str:
    if not isinstance(value, str) or not PHONE.match(value.strip()):
        raise InvalidInput(field, "must be a phone number (digits and dashes, 7 to 20 characters)",
                           code="conduct.bad_phone")
    return value.strip()


def check_period(value, field: str = "period") -> str:
    """An assessment period: a quarter 'YYYY-Qn' or a half-year 'YYYY-Hn'."""
    if not isinstance(value, str) or not PERIOD.match(value):
        raise InvalidInput(field, "must be a quarter (2007-Q1) or a half-year (2007-H1)",
                           code="conduct.bad_period")
    return value


def period_end(period: str) -> str:
    year, part = int(period[:4]), period[5:]
    last_month = {"Q1": 3, "Q2": 6, "Q3": 9, "Q4": 12, "H1": 6, "H2": 12}[part]
    first_next = date(year + (last_month == 12), last_month % 12 + 1, 1)
    return (first_next - timedelta(days=1)).isoformat()


def check_not_before(day: str, earliest: str, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidInput(field, f"must not be before {what} ({earliest})", code="conduct.date_too_early")


def check_score(score, low: int, high: int, field: str = "score") -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise InvalidInput(field, f"must be a whole number from {low} to {high}",
                           code="conduct.score_out_of_range")
    return score


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def years_later(day: str, years: int) -> str:
    start = date.fromisoformat(day)
    try:
        return start.replace(year=start.year + years).isoformat()
    except ValueError:          # 29 February
        return start.replace(year=start.year + years, day=28).isoformat()


def check_term(start: str, end: str, max_years: int, field: str = "term_end") -> None:
    if end <= start:
        raise InvalidInput(field, f"must be after the term's start ({start})",
                           code="conduct.term_end_not_after_start")
    if end > years_later(start, max_years):
        raise InvalidInput(field, f"a term is at most {max_years} years (reference/supervisors.json)",
                           code="conduct.term_too_long")


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    return "*" * max(0, len(phone) - 4) + phone[-4:]


# --- supervisors ------------------------------------------------------------------------------

class Supervisor(AuditedAggregate):
    """A conduct supervisor (民政行风监督员) recruited from a community or village, with the term
    of appointment (start and end, inclusive), renewals and an early dismissal. Keyed by a
    pseudonym of the identity number: one person is appointed once (then renewed)."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"supervisor:{person_key}")

    @event("Appointed")
    def __init__(self, person_key: UUID, id_number: str, name: str, phone: str, area: str,
                 community: str, appointed_on: str, term_start: str, term_end: str):
        self.id_number = id_number
        self.name = name
        self.phone = phone
        self.area = area
        self.community = community
        self.appointed_on = appointed_on
        self.term_start = term_start
        self.term_end = term_end
        self.terms: list[tuple[str, str]] = [(term_start, term_end)]
        self.dismissed_on: str | None = None

    def active_on(self, day: str) -> bool:
        """In a term on `day`, and not dismissed on or before it."""
        return (any(start <= day <= end for start, end in self.terms)
                and (self.dismissed_on is None or day < self.dismissed_on))

    def status_on(self, day: str) -> str:
        if self.dismissed_on is not None and day >= self.dismissed_on:
            return "dismissed"
        if self.active_on(day):
            return "active"
        return "appointed" if day < self.terms[0][0] else "expired"

    def renew(self, renewed_on: str, term_end: str, max_years: int) -> None:
        """A new term from the day after the current one ends (a renewal may be made before
        the end, or after it: then the supervisor was inactive in between)."""
        if self.dismissed_on is not None:
            raise Conflict("supervisor_id", f"the supervisor was dismissed on {self.dismissed_on}",
                           code="conduct.supervisor_dismissed")
        check_not_before(renewed_on, self.appointed_on, "renewed_on", "the appointment")
        start = max(add_days(self.term_end, 1), renewed_on)
        check_term(start, term_end, max_years)
        self._renewed(renewed_on, start, term_end, self.term_end)

    @event("Renewed")
    def _renewed(self, renewed_on: str, term_start: str, term_end: str, previous_end: str) -> None:
        self.terms.append((term_start, term_end))
        self.term_start = term_start
        self.term_end = term_end

    def dismiss(self, dismissed_on: str, reason: str) -> None:
        if self.dismissed_on is not None:
            raise Conflict("supervisor_id", f"the supervisor was dismissed on {self.dismissed_on}",
                           code="conduct.supervisor_dismissed")
        check_not_before(dismissed_on, self.appointed_on, "dismissed_on", "the appointment")
        if dismissed_on > self.term_end:
            raise Conflict("dismissed_on", f"the term already ended on {self.term_end}",
                           code="conduct.term_already_ended")
        self._dismissed(dismissed_on, check_text(reason, "reason", "reason of the dismissal"))

    @event("Dismissed")
    def _dismissed(self, dismissed_on: str, reason: str) -> None:
        self.dismissed_on = dismissed_on


# --- officers ----------------------------------------------------------------------------------

class Officer(AuditedAggregate):
    """A civil-affairs officer (民政工作人员), by officer id: breaches of the eight prohibitions
    recorded and handled, and the year-end assessment on integrity, ability, diligence and
    results (德能勤绩), one per year."""

    @staticmethod
    def create_id(officer_id: str) -> UUID:
        return uuid5(NAMESPACE, f"officer:{officer_id}")

    @event("Registered")
    def __init__(self, officer_id: str, name: str, department: str, joined_on: str):
        self.officer_id = officer_id
        self.name = name
        self.department = department
        self.joined_on = joined_on
        self.left_on: str | None = None
        self.breaches: list[dict] = []
        self.assessments: dict[str, dict] = {}     # year -> assessment

    def require_serving(self, on: str, field: str) -> None:
        if self.left_on is not None and on >= self.left_on:
            raise Conflict(field, f"officer {self.officer_id} left on {self.left_on}",
                           code="conduct.officer_left")
        check_not_before(on, self.joined_on, field, "the officer joined")

    def leave(self, left_on: str, reason: str) -> None:
        if self.left_on is not None:
            raise Conflict("officer_id", f"officer {self.officer_id} left on {self.left_on}",
                           code="conduct.officer_left")
        check_not_before(left_on, self.joined_on, "left_on", "the officer joined")
        self._left(left_on, check_text(reason, "reason", "reason the officer leaves"))

    @event("Left")
    def _left(self, left_on: str, reason: str) -> None:
        self.left_on = left_on

    # --- the eight prohibitions ----------------------------------------------------------------

    def record_breach(self, prohibition: str, occurred_on: str, description: str) -> int:
        check_not_before(occurred_on, self.joined_on, "occurred_on", "the officer joined")
        number = len(self.breaches) + 1
        self._breach_recorded(number, prohibition, occurred_on,
                              check_text(description, "description", "description of the breach"))
        return number

    @event("BreachRecorded")
    def _breach_recorded(self, breach_no: int, prohibition: str, occurred_on: str, description: str) -> None:
        self.breaches.append({"breach_no": breach_no, "prohibition": prohibition,
                              "occurred_on": occurred_on, "description": description, "handled": None})

    def handle_breach(self, breach_no, measure: str, handled_on: str, note: str) -> None:
        if isinstance(breach_no, bool) or not isinstance(breach_no, int) \
                or not 1 <= breach_no <= len(self.breaches):
            raise InvalidInput("breach_no", f"officer {self.officer_id} has no breach {breach_no}",
                               code="conduct.no_such_breach")
        breach = self.breaches[breach_no - 1]
        if breach["handled"] is not None:
            raise Conflict("breach_no", f"breach {breach_no} was handled on {breach['handled']['handled_on']}",
                           code="conduct.breach_already_handled")
        check_not_before(handled_on, breach["occurred_on"], "handled_on", "the breach")
        self._breach_handled(breach_no, measure, handled_on, check_text(note, "note", "note"))

    @event("BreachHandled")
    def _breach_handled(self, breach_no: int, measure: str, handled_on: str, note: str) -> None:
        self.breaches[breach_no - 1]["handled"] = {"measure": measure, "handled_on": handled_on}

    def breaches_in(self, year: int) -> int:
        return sum(1 for b in self.breaches if b["occurred_on"][:4] == str(year))

    # --- the year-end assessment -----------------------------------------------------------------

    def assess(self, year: int, grades: dict[str, str], overall: str, rewarded: bool, assessed_on: str,
               rule_from: str, excellent: str) -> None:
        """`overall` was worked out by the rule in force (rules.py); an officer with a breach of
        the eight prohibitions in the year is never graded excellent."""
        if str(year) in self.assessments:
            raise Conflict("year", f"officer {self.officer_id} was assessed for {year} on "
                                   f"{self.assessments[str(year)]['assessed_on']}",
                           code="conduct.already_assessed")
        if self.joined_on > f"{year}-12-31" or (self.left_on is not None and self.left_on <= f"{year}-12-31"):
            raise Conflict("year", f"officer {self.officer_id} does not serve at the end of {year}",
                           code="conduct.not_serving_at_year_end")
        if not f"{year}-10-01" <= assessed_on <= f"{year + 1}-03-31":
            raise InvalidInput("assessed_on", f"the assessment of {year} is made from {year}-10-01 "
                                              f"to {year + 1}-03-31", code="conduct.assessment_outside_year")
        breaches = self.breaches_in(year)
        if overall == excellent and breaches:
            raise Conflict("integrity", f"officer {self.officer_id} breached the eight prohibitions "
                                        f"{breaches} time(s) in {year}: not graded {excellent}",
                           code="conduct.excellent_with_breach")
        self._assessed(year, grades["integrity"], grades["ability"], grades["diligence"],
                       grades["results"], overall, rewarded, assessed_on, rule_from, breaches)

    @event("Assessed")
    def _assessed(self, year: int, integrity: str, ability: str, diligence: str, results: str,
                  overall: str, rewarded: bool, assessed_on: str, rule_from: str,
                  breaches_in_year: int) -> None:
        self.assessments[str(year)] = {"integrity": integrity, "ability": ability,
                                       "diligence": diligence, "results": results,
                                       "overall": overall, "rewarded": rewarded,
                                       "assessed_on": assessed_on}


class Roster(AuditedAggregate):
    """The officers serving, and the community (or village) each one is assigned to visit: a
    community has one contact officer at a time (分头联系社区(村)). One aggregate, so an
    assignment and a visit see one consistent roster."""

    ID = uuid5(NAMESPACE, "roster")

    @staticmethod
    def create_id() -> UUID:
        return Roster.ID

    @event("Started")
    def __init__(self) -> None:
        self.officers: dict[str, str] = {}        # officer id -> joined_on (serving)
        self.communities: dict[str, dict] = {}    # community -> officer_id, area, assigned_on
        self.history: list[dict] = []              # community, officer_id, from, until

    @event("OfficerAdded")
    def add_officer(self, officer_id: str, joined_on: str) -> None:
        self.officers[officer_id] = joined_on

    def remove_officer(self, officer_id: str, left_on: str) -> None:
        for community, entry in sorted(self.communities.items()):
            if entry["officer_id"] == officer_id:
                self._released(community, left_on)
        if officer_id in self.officers:
            self._officer_removed(officer_id, left_on)

    @event("OfficerRemoved")
    def _officer_removed(self, officer_id: str, left_on: str) -> None:
        del self.officers[officer_id]

    def assign(self, community: str, area: str, officer_id: str, assigned_on: str) -> None:
        if officer_id not in self.officers:
            raise Conflict("officer_id", f"officer {officer_id} is not serving",
                           code="conduct.officer_not_serving")
        check_not_before(assigned_on, self.officers[officer_id], "assigned_on", "the officer joined")
        current = self.communities.get(community)
        if current is not None:
            raise Conflict("community", f"{community} is assigned to {current['officer_id']} since "
                                        f"{current['assigned_on']}; release it first",
                           code="conduct.community_already_assigned")
        self._assigned(community, area, officer_id, assigned_on)

    @event("CommunityAssigned")
    def _assigned(self, community: str, area: str, officer_id: str, assigned_on: str) -> None:
        self.communities[community] = {"officer_id": officer_id, "area": area, "assigned_on": assigned_on}

    def release(self, community: str, released_on: str) -> None:
        current = self.communities.get(community)
        if current is None:
            raise Conflict("community", f"{community} is assigned to no officer",
                           code="conduct.community_not_assigned")
        check_not_before(released_on, current["assigned_on"], "released_on", "the assignment")
        self._released(community, released_on)

    @event("CommunityReleased")
    def _released(self, community: str, released_on: str) -> None:
        entry = self.communities.pop(community)
        self.history.append({"community": community, "officer_id": entry["officer_id"],
                             "from": entry["assigned_on"], "until": released_on})

    def contact_on(self, community: str, day: str) -> str | None:
        """The officer assigned to the community on a day (now or in the history)."""
        current = self.communities.get(community)
        if current is not None and current["assigned_on"] <= day:
            return current["officer_id"]
        for past in self.history:
            if past["community"] == community and past["from"] <= day < past["until"]:
                return past["officer_id"]
        return None

    def of_officer(self, officer_id: str) -> list[str]:
        return sorted(c for c, e in self.communities.items() if e["officer_id"] == officer_id)


# --- visits --------------------------------------------------------------------------------------

class Visit(AuditedAggregate):
    """An officer's visit to a community or village assigned to them, with the opinions and
    suggestions heard (定期深入社区、村听取意见、建议) and the follow-up of each."""

    @event("Recorded")
    def __init__(self, officer_id: str, community: str, area: str, visited_on: str, opinions: list):
        self.officer_id = officer_id
        self.community = community
        self.area = area
        self.visited_on = visited_on
        self.opinions = list(opinions)
        self.follow_ups: dict[str, dict] = {}     # opinion number -> follow_up, followed_up_on

    @staticmethod
    def check_visit(officer_id: str, community: str, visited_on: str, contact: str | None, opinions) -> list:
        if contact != officer_id:
            raise Conflict("officer_id", f"{community} is assigned to "
                                         f"{contact or 'no officer'} on {visited_on}, not to {officer_id}",
                           code="conduct.visit_not_by_assigned_officer")
        if not isinstance(opinions, (list, tuple)):
            raise InvalidInput("opinions", "must be a list of the opinions heard",
                               code="conduct.opinions_not_a_list")
        return [check_text(o, "opinions", "opinion heard") for o in opinions]

    def follow_up(self, opinion_no, follow_up: str, followed_up_on: str) -> None:
        if isinstance(opinion_no, bool) or not isinstance(opinion_no, int) \
                or not 1 <= opinion_no <= len(self.opinions):
            raise InvalidInput("opinion_no", f"the visit heard {len(self.opinions)} opinion(s)",
                               code="conduct.no_such_opinion")
        if str(opinion_no) in self.follow_ups:
            raise Conflict("opinion_no", f"opinion {opinion_no} was followed up on "
                                         f"{self.follow_ups[str(opinion_no)]['followed_up_on']}",
                           code="conduct.already_followed_up")
        check_not_before(followed_up_on, self.visited_on, "followed_up_on", "the visit")
        self._followed_up(opinion_no, check_text(follow_up, "follow_up", "follow-up"), followed_up_on)

    @event("FollowedUp")
    def _followed_up(self, opinion_no: int, follow_up: str, followed_up_on: str) -> None:
        self.follow_ups[str(opinion_no)] = {"follow_up": follow_up, "followed_up_on": followed_up_on}


# --- public reviews ----------------------------------------------------------------------------------

class Review(AuditedAggregate):
    """A public review (民主评议) of a service window or an officer: a score and a comment by a
    resident, a conduct supervisor or an officer (never of themselves)."""

    @staticmethod
    def check_reviewer(subject_kind: str, subject: str, reviewer_kind: str, reviewer: str | None) -> None:
        if reviewer_kind == "resident":
            if reviewer is not None:
                raise InvalidInput("reviewer", "a resident's review is anonymous (no reviewer id)",
                                   code="conduct.resident_review_anonymous")
            return
        if reviewer is None:
            raise InvalidInput("reviewer", f"a {reviewer_kind}'s review names the reviewer's id",
                               code="conduct.reviewer_required")
        if reviewer_kind == "officer" and subject_kind == "officer" and reviewer == subject:
            raise Conflict("reviewer", "an officer never reviews themselves", code="conduct.self_review")

    @event("Recorded")
    def __init__(self, subject_kind: str, subject: str, area: str | None, reviewer_kind: str,
                 reviewer: str | None, score: int, comment: str, reviewed_on: str):
        self.subject_kind = subject_kind
        self.subject = subject
        self.area = area
        self.reviewer_kind = reviewer_kind
        self.reviewer = reviewer
        self.score = score
        self.comment = comment
        self.reviewed_on = reviewed_on


# --- complaints and suggestions ---------------------------------------------------------------------

class Complaint(AuditedAggregate):
    """A complaint (投诉) or suggestion (建议) about a window or an officer: received with a
    handling deadline, answered, and the answer accepted by the complainant or not (then the
    complaint is reopened or escalated with a new deadline, and answered again). Overdue: past
    its deadline and not answered."""

    @event("Received")
    def __init__(self, kind: str, area: str, subject_kind: str, subject: str, contact_name: str,
                 phone: str, summary: str, received_on: str, deadline: str, handling_days: int,
                 rule_from: str):
        self.kind = kind
        self.area = area
        self.subject_kind = subject_kind
        self.subject = subject
        self.contact_name = contact_name
        self.phone = phone
        self.summary = summary
        self.received_on = received_on
        self.deadline = deadline
        self.status = OPEN
        self.rounds = 0                  # times reopened or escalated
        self.escalated = False
        self.answers: list[dict] = []
        self.accepted: bool | None = None

    def overdue_on(self, day: str) -> bool:
        return self.status == OPEN and self.deadline < day

    def answer(self, answer: str, answered_on: str, officer_id: str) -> None:
        if self.status != OPEN:
            raise Conflict("complaint_id", f"the complaint is {self.status}, not open",
                           code="conduct.complaint_not_open")
        since = self.answers[-1]["responded_on"] if self.answers else self.received_on
        check_not_before(answered_on, since, "answered_on", "the complaint was received or reopened")
        self._answered(check_text(answer, "answer", "answer"), answered_on, officer_id,
                       answered_on > self.deadline)

    @event("Answered")
    def _answered(self, answer: str, answered_on: str, officer_id: str, late: bool) -> None:
        self.status = ANSWERED
        self.answers.append({"answer": answer, "answered_on": answered_on, "officer_id": officer_id,
                             "late": late, "responded_on": None})

    def respond(self, accepted, outcome: str | None, responded_on: str, days: dict[str, int]) -> None:
        """The complainant's acceptance of the answer: accepted closes it; not accepted reopens
        or escalates it with a new deadline (`days` of the handling rule in force)."""
        if self.status != ANSWERED:
            raise Conflict("complaint_id", f"the complaint is {self.status}: only an answer is accepted or not",
                           code="conduct.not_answered")
        if not isinstance(accepted, bool):
            raise InvalidInput("accepted", "must be true or false", code="conduct.accepted_not_boolean")
        if accepted and outcome is not None:
            raise InvalidInput("outcome", "an accepted answer closes the complaint (no outcome)",
                               code="conduct.outcome_only_when_not_accepted")
        if not accepted and outcome not in OUTCOMES:
            raise InvalidInput("outcome", "an answer not accepted reopens or escalates the complaint: "
                               + ", ".join(OUTCOMES), code="conduct.outcome_required")
        check_not_before(responded_on, self.answers[-1]["answered_on"], "responded_on", "the answer")
        deadline = None if accepted else add_days(responded_on, days[outcome])
        self._responded(accepted, outcome, responded_on, deadline)

    @event("Responded")
    def _responded(self, accepted: bool, outcome: str | None, responded_on: str, deadline: str | None) -> None:
        self.answers[-1]["responded_on"] = responded_on
        self.accepted = accepted
        if accepted:
            self.status = CLOSED
        else:
            self.status = OPEN
            self.rounds += 1
            self.escalated = self.escalated or outcome == "escalated"
            self.deadline = deadline


# --- window efficiency ------------------------------------------------------------------------------

class EfficiencyAssessment(AuditedAggregate):
    """A window's efficiency assessment (效能考核) for a period, by a method the window admits:
    a score, and the rectification measures a low score needs. One per window and period."""

    @staticmethod
    def create_id(window: str, period: str) -> UUID:
        return uuid5(NAMESPACE, f"efficiency:{window}|{period}")

    @staticmethod
    def check(window: str, period: str, method: str, methods, score: int, measures: str | None,
              measures_below: int, assessed_on: str) -> str | None:
        if method not in methods:
            raise InvalidInput("method", f"window {window} is assessed by: {', '.join(methods)}",
                               code="conduct.method_not_for_window")
        check_score(score, 0, 100)
        if assessed_on < period_end(period):
            raise InvalidInput("assessed_on", f"the period {period} ends on {period_end(period)}",
                               code="conduct.period_not_ended")
        if score < measures_below and (measures is None or not str(measures).strip()):
            raise InvalidInput("measures", f"a score below {measures_below} needs rectification measures",
                               code="conduct.measures_required")
        return None if measures is None else check_text(measures, "measures", "measures")

    @event("Recorded")
    def __init__(self, window: str, area: str, period: str, method: str, score: int,
                 measures: str | None, rectification: bool, assessed_on: str):
        self.window = window
        self.area = area
        self.period = period
        self.method = method
        self.score = score
        self.measures = measures
        self.rectification = rectification
        self.assessed_on = assessed_on


__all__ = ["Supervisor", "Officer", "Roster", "Visit", "Review", "Complaint", "EfficiencyAssessment"]

"""Read models of the conduct supervision events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent. Handlers use only event data, never the clock, so a rebuild from the
event store gives the same rows. Identity numbers arrive masked; phone numbers and complainants'
names never arrive (shared/contract.py drops them). Every table and view is prefixed `cs_`.
The roster's start and its officer entries need no rows of their own (the officers table says
who serves); its assignments are the current contact of each community.
"""
from __future__ import annotations

SOURCE = "conduct_supervision"

TABLES = {
    "cs_supervisors": """
        supervisor_id uuid PRIMARY KEY, area text NOT NULL, community text NOT NULL,
        name text NOT NULL, id_number text NOT NULL, appointed_on date NOT NULL,
        term_start date NOT NULL, term_end date NOT NULL, dismissed_on date,
        renewals int NOT NULL DEFAULT 0""",
    "cs_officers": """
        officer_id text PRIMARY KEY, name text NOT NULL, department text NOT NULL,
        joined_on date NOT NULL, left_on date""",
    "cs_assignments": """
        community text PRIMARY KEY, area text NOT NULL, officer_id text NOT NULL,
        assigned_on date NOT NULL""",
    "cs_visits": """
        visit_id uuid PRIMARY KEY, officer_id text NOT NULL, community text NOT NULL,
        area text NOT NULL, visited_on date NOT NULL, opinions int NOT NULL""",
    "cs_visit_opinions": """
        visit_id uuid NOT NULL, opinion_no int NOT NULL, area text NOT NULL, opinion text NOT NULL,
        follow_up text, followed_up_on date, PRIMARY KEY (visit_id, opinion_no)""",
    "cs_reviews": """
        review_id uuid PRIMARY KEY, subject_kind text NOT NULL, subject text NOT NULL, area text,
        reviewer_kind text NOT NULL, score int NOT NULL, reviewed_on date NOT NULL""",
    "cs_complaints": """
        complaint_id uuid PRIMARY KEY, kind text NOT NULL, area text NOT NULL,
        subject_kind text NOT NULL, subject text NOT NULL, received_on date NOT NULL,
        deadline date NOT NULL, status text NOT NULL, rounds int NOT NULL DEFAULT 0,
        escalated boolean NOT NULL DEFAULT false, answered_on date, late_answers int NOT NULL DEFAULT 0,
        accepted boolean""",
    "cs_efficiency": """
        assessment_id uuid PRIMARY KEY, window_code text NOT NULL, area text NOT NULL, period text NOT NULL,
        method text NOT NULL, score int NOT NULL, rectification boolean NOT NULL, assessed_on date NOT NULL""",
    "cs_breaches": """
        officer_id text NOT NULL, breach_no int NOT NULL, prohibition text NOT NULL,
        occurred_on date NOT NULL, measure text, handled_on date, PRIMARY KEY (officer_id, breach_no)""",
    "cs_assessments": """
        officer_id text NOT NULL, year int NOT NULL, integrity text NOT NULL, ability text NOT NULL,
        diligence text NOT NULL, results text NOT NULL, overall text NOT NULL, rewarded boolean NOT NULL,
        assessed_on date NOT NULL, breaches_in_year int NOT NULL, PRIMARY KEY (officer_id, year)""",
}

VIEWS = {
    # Complaints past their deadline and not answered, today (the list to act on).
    "cs_overdue_complaints": """
        SELECT complaint_id, kind, area, subject_kind, subject, received_on, deadline, rounds, escalated
        FROM {schema}.cs_complaints WHERE status = 'open' AND deadline < current_date""",
    # The rewards list (评先评优): officers whose year-end assessment earns a reward.
    "cs_rewards": """
        SELECT a.year, a.officer_id, o.name, o.department, a.overall
        FROM {schema}.cs_assessments a JOIN {schema}.cs_officers o USING (officer_id)
        WHERE a.rewarded""",
    # Serving officers assigned no community or village.
    "cs_officers_without_community": """
        SELECT o.officer_id, o.name, o.department FROM {schema}.cs_officers o
        WHERE o.left_on IS NULL AND NOT EXISTS (
            SELECT 1 FROM {schema}.cs_assignments a WHERE a.officer_id = o.officer_id)""",
    # Opinions heard on visits and not yet followed up.
    "cs_opinions_pending": """
        SELECT v.visit_id, v.officer_id, v.community, v.area, v.visited_on, p.opinion_no, p.opinion
        FROM {schema}.cs_visit_opinions p JOIN {schema}.cs_visits v USING (visit_id)
        WHERE p.followed_up_on IS NULL""",
}


def update(db, table: str, key: str, data, **columns):
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    db.exec(f"UPDATE {{s}}.{table} SET {assignments} WHERE {key} = %(id)s", {**columns, "id": data["aggregate_id"]})


# --- supervisors -----------------------------------------------------------------------------------

def supervisor_appointed(db, data, event):
    db.exec("""INSERT INTO {s}.cs_supervisors (supervisor_id, area, community, name, id_number,
               appointed_on, term_start, term_end) VALUES (%(id)s, %(area)s, %(community)s, %(name)s,
               %(number)s, %(on)s, %(start)s, %(end)s) ON CONFLICT (supervisor_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "community": data["community"],
             "name": data["name"], "number": data["id_number"], "on": data["appointed_on"],
             "start": data["term_start"], "end": data["term_end"]})


def supervisor_renewed(db, data, event):
    db.exec("""UPDATE {s}.cs_supervisors SET term_start = %(start)s, term_end = %(end)s,
               renewals = renewals + 1 WHERE supervisor_id = %(id)s AND term_end = %(previous)s""",
            {"start": data["term_start"], "end": data["term_end"], "previous": data["previous_end"],
             "id": data["aggregate_id"]})


def supervisor_dismissed(db, data, event):
    update(db, "cs_supervisors", "supervisor_id", data, dismissed_on=data["dismissed_on"])


# --- officers and the roster -------------------------------------------------------------------------

def officer_registered(db, data, event):
    db.exec("""INSERT INTO {s}.cs_officers (officer_id, name, department, joined_on)
               VALUES (%(officer)s, %(name)s, %(department)s, %(on)s) ON CONFLICT (officer_id) DO NOTHING""",
            {"officer": data["officer_id"], "name": data["name"], "department": data["department"],
             "on": data["joined_on"]})


def officer_left(db, data, event):
    db.exec("""UPDATE {s}.cs_officers SET left_on = %(on)s
               WHERE officer_id = (SELECT officer_id FROM {s}.cs_officer_ids WHERE aggregate_id = %(id)s)""",
            {"on": data["left_on"], "id": data["aggregate_id"]})


def officer_id_of(handler):
    """Officer events after the registration carry the aggregate id: the registration records
    which officer id it is."""
    def registered(db, data, event):
        handler(db, data, event)
        db.exec("""INSERT INTO {s}.cs_officer_ids VALUES (%(id)s, %(officer)s) ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "officer": data["officer_id"]})
    return registered


OFFICER = "(SELECT officer_id FROM {s}.cs_officer_ids WHERE aggregate_id = %(id)s)"


def breach_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.cs_breaches (officer_id, breach_no, prohibition, occurred_on)
                SELECT officer_id, %(no)s, %(prohibition)s, %(on)s FROM {s}.cs_officer_ids
                WHERE aggregate_id = %(id)s ON CONFLICT DO NOTHING""",
            {"no": data["breach_no"], "prohibition": data["prohibition"], "on": data["occurred_on"],
             "id": data["aggregate_id"]})


def breach_handled(db, data, event):
    db.exec(f"""UPDATE {{s}}.cs_breaches SET measure = %(measure)s, handled_on = %(on)s
                WHERE officer_id = {OFFICER} AND breach_no = %(no)s""",
            {"measure": data["measure"], "on": data["handled_on"], "no": data["breach_no"],
             "id": data["aggregate_id"]})


def officer_assessed(db, data, event):
    db.exec("""INSERT INTO {s}.cs_assessments SELECT officer_id, %(year)s, %(integrity)s, %(ability)s,
               %(diligence)s, %(results)s, %(overall)s, %(rewarded)s, %(on)s, %(breaches)s
               FROM {s}.cs_officer_ids WHERE aggregate_id = %(id)s ON CONFLICT DO NOTHING""",
            {"year": data["year"], "integrity": data["integrity"], "ability": data["ability"],
             "diligence": data["diligence"], "results": data["results"], "overall": data["overall"],
             "rewarded": data["rewarded"], "on": data["assessed_on"], "breaches": data["breaches_in_year"],
             "id": data["aggregate_id"]})


def community_assigned(db, data, event):
    db.exec("""INSERT INTO {s}.cs_assignments VALUES (%(community)s, %(area)s, %(officer)s, %(on)s)
               ON CONFLICT (community) DO UPDATE SET area = excluded.area, officer_id = excluded.officer_id,
               assigned_on = excluded.assigned_on""",
            {"community": data["community"], "area": data["area"], "officer": data["officer_id"],
             "on": data["assigned_on"]})


def community_released(db, data, event):
    db.exec("DELETE FROM {s}.cs_assignments WHERE community = %(community)s", {"community": data["community"]})


# --- visits ------------------------------------------------------------------------------------------

def visit_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.cs_visits VALUES (%(id)s, %(officer)s, %(community)s, %(area)s, %(on)s, %(n)s)
               ON CONFLICT (visit_id) DO NOTHING""",
            {"id": data["aggregate_id"], "officer": data["officer_id"], "community": data["community"],
             "area": data["area"], "on": data["visited_on"], "n": len(data["opinions"])})
    for number, opinion in enumerate(data["opinions"], 1):
        db.exec("""INSERT INTO {s}.cs_visit_opinions (visit_id, opinion_no, area, opinion)
                   VALUES (%(id)s, %(no)s, %(area)s, %(opinion)s) ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "no": number, "area": data["area"], "opinion": opinion})


def visit_followed_up(db, data, event):
    db.exec("""UPDATE {s}.cs_visit_opinions SET follow_up = %(text)s, followed_up_on = %(on)s
               WHERE visit_id = %(id)s AND opinion_no = %(no)s""",
            {"text": data["follow_up"], "on": data["followed_up_on"], "id": data["aggregate_id"],
             "no": data["opinion_no"]})


# --- reviews, complaints, efficiency --------------------------------------------------------------------

def review_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.cs_reviews VALUES (%(id)s, %(kind)s, %(subject)s, %(area)s, %(reviewer)s,
               %(score)s, %(on)s) ON CONFLICT (review_id) DO NOTHING""",
            {"id": data["aggregate_id"], "kind": data["subject_kind"], "subject": data["subject"],
             "area": data["area"], "reviewer": data["reviewer_kind"], "score": data["score"],
             "on": data["reviewed_on"]})


def complaint_received(db, data, event):
    db.exec("""INSERT INTO {s}.cs_complaints (complaint_id, kind, area, subject_kind, subject, received_on,
               deadline, status) VALUES (%(id)s, %(kind)s, %(area)s, %(subject_kind)s, %(subject)s, %(on)s,
               %(deadline)s, 'open') ON CONFLICT (complaint_id) DO NOTHING""",
            {"id": data["aggregate_id"], "kind": data["kind"], "area": data["area"],
             "subject_kind": data["subject_kind"], "subject": data["subject"], "on": data["received_on"],
             "deadline": data["deadline"]})


def complaint_answered(db, data, event):
    db.exec("""UPDATE {s}.cs_complaints SET status = 'answered', answered_on = %(on)s,
               late_answers = late_answers + %(late)s WHERE complaint_id = %(id)s AND status = 'open'""",
            {"on": data["answered_on"], "late": int(bool(data["late"])), "id": data["aggregate_id"]})


def complaint_responded(db, data, event):
    if data["accepted"]:
        update(db, "cs_complaints", "complaint_id", data, status="closed", accepted=True)
    else:
        db.exec("""UPDATE {s}.cs_complaints SET status = 'open', accepted = false, rounds = rounds + 1,
                   escalated = escalated OR %(escalated)s, deadline = %(deadline)s
                   WHERE complaint_id = %(id)s AND status = 'answered'""",
                {"escalated": data["outcome"] == "escalated", "deadline": data["deadline"],
                 "id": data["aggregate_id"]})


def efficiency_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.cs_efficiency VALUES (%(id)s, %(window)s, %(area)s, %(period)s, %(method)s,
               %(score)s, %(rectification)s, %(on)s) ON CONFLICT (assessment_id) DO NOTHING""",
            {"id": data["aggregate_id"], "window": data["window"], "area": data["area"],
             "period": data["period"], "method": data["method"], "score": data["score"],
             "rectification": data["rectification"], "on": data["assessed_on"]})


TABLES["cs_officer_ids"] = "aggregate_id uuid PRIMARY KEY, officer_id text NOT NULL"

HANDLERS = {
    "SupervisorAppointed": supervisor_appointed,
    "SupervisorRenewed": supervisor_renewed,
    "SupervisorDismissed": supervisor_dismissed,
    "OfficerRegistered": officer_id_of(officer_registered),
    "OfficerLeft": officer_left,
    "OfficerBreachRecorded": breach_recorded,
    "OfficerBreachHandled": breach_handled,
    "OfficerAssessed": officer_assessed,
    "RosterCommunityAssigned": community_assigned,
    "RosterCommunityReleased": community_released,
    "VisitRecorded": visit_recorded,
    "VisitFollowedUp": visit_followed_up,
    "ReviewRecorded": review_recorded,
    "ComplaintReceived": complaint_received,
    "ComplaintAnswered": complaint_answered,
    "ComplaintResponded": complaint_responded,
    "EfficiencyAssessmentRecorded": efficiency_recorded,
}

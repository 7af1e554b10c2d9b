"""Read models of the military support events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent. Handlers use only event data, never the clock, so a rebuild from the
event store gives the same rows. Identity numbers arrive masked; birth dates never arrive.
Every table and view is prefixed `ms_`. The index aggregates (BenefitRoll, PairRegistry) and the
evidence file's opening need no rows of their own: the roll is the active beneficiaries, the
pairs in force are the pairs not dissolved.
"""
from __future__ import annotations

SOURCE = "military_support"

TABLES = {
    "ms_beneficiaries": """
        beneficiary_id uuid PRIMARY KEY, category text NOT NULL, area text NOT NULL,
        name text NOT NULL, id_number text NOT NULL, grade int, cause text,
        registered_on date NOT NULL, status text NOT NULL, ended_on date,
        insurance_scheme text, insured_on date, assistance_joined_on date""",
    "ms_benefit_payments": """
        beneficiary_id uuid NOT NULL, month text NOT NULL, area text NOT NULL,
        category text NOT NULL, grade int, cause text, amount numeric(12,2) NOT NULL,
        standard_from date NOT NULL, PRIMARY KEY (beneficiary_id, month)""",
    "ms_assistance_claims": """
        beneficiary_id uuid NOT NULL, version int NOT NULL, area text NOT NULL,
        claimed_on date NOT NULL, expenses numeric(12,2) NOT NULL, paid numeric(12,2) NOT NULL,
        PRIMARY KEY (beneficiary_id, version)""",
    "ms_workers": """
        worker_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL,
        id_number text NOT NULL, from_unit text NOT NULL, received_on date NOT NULL,
        employer text, placed_on date""",
    "ms_worker_benefits": """
        worker_id uuid NOT NULL, month text NOT NULL, kind text NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, PRIMARY KEY (worker_id, month, kind)""",
    "ms_activities": """
        activity_id uuid PRIMARY KEY, channel text NOT NULL, area text NOT NULL,
        title text NOT NULL, unit text NOT NULL, held_on date NOT NULL, participants int NOT NULL""",
    "ms_education_sessions": """
        session_id uuid PRIMARY KEY, venue text NOT NULL, audience text NOT NULL,
        area text NOT NULL, topic text NOT NULL, held_on date NOT NULL, attendees int NOT NULL""",
    "ms_pairs": """
        pair_id uuid PRIMARY KEY, area text NOT NULL, civilian text NOT NULL, unit text NOT NULL,
        formed_on date NOT NULL, dissolved_on date""",
    "ms_evidence_files": """
        year int PRIMARY KEY, title text NOT NULL, activities int NOT NULL DEFAULT 0,
        education_sessions int NOT NULL DEFAULT 0, submitted_on date,
        submitted_activities int, submitted_sessions int, submitted_pairs int""",
}

VIEWS = {
    # Active beneficiaries now, by area, category and grade (grade 0: not a disabled serviceman).
    "ms_beneficiaries_by_category": """
        SELECT area, category, coalesce(grade, 0) AS grade, count(*) AS beneficiaries
        FROM {schema}.ms_beneficiaries WHERE status = 'active'
        GROUP BY area, category, coalesce(grade, 0)""",
    # The plan's target: every active disabled serviceman of grades 1-6 enrolled in insurance.
    "ms_medical_coverage": """
        SELECT area, count(*) AS grade_1_6,
               count(*) FILTER (WHERE insurance_scheme IS NOT NULL) AS insured
        FROM {schema}.ms_beneficiaries
        WHERE status = 'active' AND category = 'disabled_serviceman' AND grade BETWEEN 1 AND 6
        GROUP BY area""",
    # Grade 1-6 disabled servicemen not yet enrolled (the list to act on).
    "ms_uninsured_grade_1_6": """
        SELECT beneficiary_id, area, name, id_number, grade, cause, registered_on
        FROM {schema}.ms_beneficiaries
        WHERE status = 'active' AND category = 'disabled_serviceman' AND grade BETWEEN 1 AND 6
              AND insurance_scheme IS NULL""",
    # Workers received and placed, by area.
    "ms_resettlement": """
        SELECT area, count(*) AS received, count(placed_on) AS placed
        FROM {schema}.ms_workers GROUP BY area""",
    # Army-support activities by year, channel and area.
    "ms_activities_by_channel": """
        SELECT extract(year FROM held_on)::int AS year, channel, area, count(*) AS activities,
               sum(participants) AS participants
        FROM {schema}.ms_activities GROUP BY 1, channel, area""",
}


# --- beneficiaries ------------------------------------------------------------------------------------

def beneficiary_registered(db, data, event):
    db.exec("""INSERT INTO {s}.ms_beneficiaries (beneficiary_id, category, area, name, id_number,
               grade, cause, registered_on, status) VALUES (%(id)s, %(category)s, %(area)s,
               %(name)s, %(number)s, %(grade)s, %(cause)s, %(on)s, 'active')
               ON CONFLICT (beneficiary_id) DO NOTHING""",
            {"id": data["aggregate_id"], "category": data["category"], "area": data["area"],
             "name": data["name"], "number": data["id_number"], "grade": data["grade"],
             "cause": data["cause"], "on": data["registered_on"]})


def update_beneficiary(db, data, **columns):
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    db.exec(f"UPDATE {{s}}.ms_beneficiaries SET {assignments} WHERE beneficiary_id = %(id)s",
            {**columns, "id": data["aggregate_id"]})


def reassessed(db, data, event):
    update_beneficiary(db, data, grade=data["grade"])


def ended(db, data, event):
    update_beneficiary(db, data, status="ended", ended_on=data["ended_on"])


def insurance_enrolled(db, data, event):
    update_beneficiary(db, data, insurance_scheme=data["scheme"], insured_on=data["enrolled_on"])


def assistance_joined(db, data, event):
    update_beneficiary(db, data, assistance_joined_on=data["joined_on"])


def benefit_paid(db, data, event):
    db.exec("""INSERT INTO {s}.ms_benefit_payments
               SELECT beneficiary_id, %(month)s, area, %(category)s, %(grade)s, %(cause)s,
                      %(amount)s, %(from)s FROM {s}.ms_beneficiaries WHERE beneficiary_id = %(id)s
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "month": data["month"], "category": data["category"],
             "grade": data["grade"], "cause": data["cause"], "amount": data["amount"],
             "from": data["standard_from"]})


def claim_paid(db, data, event):
    db.exec("""INSERT INTO {s}.ms_assistance_claims
               SELECT beneficiary_id, %(v)s, area, %(on)s, %(expenses)s, %(paid)s
               FROM {s}.ms_beneficiaries WHERE beneficiary_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["claimed_on"],
             "expenses": data["expenses"], "paid": data["paid"]})


# --- workers without military status ------------------------------------------------------------------

def worker_received(db, data, event):
    db.exec("""INSERT INTO {s}.ms_workers (worker_id, area, name, id_number, from_unit, received_on)
               VALUES (%(id)s, %(area)s, %(name)s, %(number)s, %(unit)s, %(on)s)
               ON CONFLICT (worker_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"],
             "number": data["id_number"], "unit": data["from_unit"], "on": data["received_on"]})


def worker_placed(db, data, event):
    db.exec("UPDATE {s}.ms_workers SET employer = %(employer)s, placed_on = %(on)s WHERE worker_id = %(id)s",
            {"employer": data["employer"], "on": data["placed_on"], "id": data["aggregate_id"]})


def worker_benefit_paid(db, data, event):
    db.exec("""INSERT INTO {s}.ms_worker_benefits
               SELECT worker_id, %(month)s, %(kind)s, area, %(amount)s FROM {s}.ms_workers
               WHERE worker_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "month": data["month"], "kind": data["kind"],
             "amount": data["amount"]})


# --- double support -------------------------------------------------------------------------------------

def activity_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.ms_activities VALUES (%(id)s, %(channel)s, %(area)s, %(title)s,
               %(unit)s, %(on)s, %(participants)s) ON CONFLICT (activity_id) DO NOTHING""",
            {"id": data["aggregate_id"], "channel": data["channel"], "area": data["area"],
             "title": data["title"], "unit": data["unit"], "on": data["held_on"],
             "participants": data["participants"]})


def session_held(db, data, event):
    db.exec("""INSERT INTO {s}.ms_education_sessions VALUES (%(id)s, %(venue)s, %(audience)s,
               %(area)s, %(topic)s, %(on)s, %(attendees)s) ON CONFLICT (session_id) DO NOTHING""",
            {"id": data["aggregate_id"], "venue": data["venue"], "audience": data["audience"],
             "area": data["area"], "topic": data["topic"], "on": data["held_on"],
             "attendees": data["attendees"]})


def pair_formed(db, data, event):
    db.exec("""INSERT INTO {s}.ms_pairs VALUES (%(id)s, %(area)s, %(civilian)s, %(unit)s, %(on)s, NULL)
               ON CONFLICT (pair_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "civilian": data["civilian"],
             "unit": data["unit"], "on": data["formed_on"]})


def pair_dissolved(db, data, event):
    db.exec("UPDATE {s}.ms_pairs SET dissolved_on = %(on)s WHERE pair_id = %(id)s",
            {"on": data["dissolved_on"], "id": data["aggregate_id"]})


# The evidence file's rows are keyed by year; its events carry the aggregate id, so the opening
# event (which names the year) is the one that creates the row, and later events find it by id.
def file_opened(db, data, event):
    db.exec("""INSERT INTO {s}.ms_evidence_files (year, title) VALUES (%(year)s, %(title)s)
               ON CONFLICT (year) DO NOTHING""", {"year": data["year"], "title": data["title"]})
    db.exec("""INSERT INTO {s}.ms_evidence_file_ids VALUES (%(id)s, %(year)s)
               ON CONFLICT DO NOTHING""", {"id": data["aggregate_id"], "year": data["year"]})


def file_counted(column: str):
    def handler(db, data, event):
        db.exec(f"""UPDATE {{s}}.ms_evidence_files SET {column} = {column} + 1
                    WHERE year = (SELECT year FROM {{s}}.ms_evidence_file_ids WHERE file_id = %(id)s)""",
                {"id": data["aggregate_id"]})
    return handler


def file_submitted(db, data, event):
    counts = data["counts"]
    db.exec("""UPDATE {s}.ms_evidence_files SET submitted_on = %(on)s, submitted_activities = %(a)s,
               submitted_sessions = %(e)s, submitted_pairs = %(p)s
               WHERE year = (SELECT year FROM {s}.ms_evidence_file_ids WHERE file_id = %(id)s)""",
            {"on": data["submitted_on"], "a": counts["activities"], "e": counts["education_sessions"],
             "p": counts["co_building_pairs"], "id": data["aggregate_id"]})


TABLES["ms_evidence_file_ids"] = "file_id uuid PRIMARY KEY, year int NOT NULL"

HANDLERS = {
    "BeneficiaryRegistered": beneficiary_registered,
    "BeneficiaryReassessed": reassessed,
    "BeneficiaryEnded": ended,
    "BeneficiaryBenefitPaid": benefit_paid,
    "BeneficiaryInsuranceEnrolled": insurance_enrolled,
    "BeneficiaryAssistanceJoined": assistance_joined,
    "BeneficiaryAssistanceClaimPaid": claim_paid,
    "WorkerReceived": worker_received,
    "WorkerPlaced": worker_placed,
    "WorkerBenefitPaid": worker_benefit_paid,
    "SupportActivityRecorded": activity_recorded,
    "EducationSessionHeld": session_held,
    "CoBuildingPairFormed": pair_formed,
    "CoBuildingPairDissolved": pair_dissolved,
    "EvidenceFileOpened": file_opened,
    "EvidenceFileActivityFiled": file_counted("activities"),
    "EvidenceFileSessionFiled": file_counted("education_sessions"),
    "EvidenceFileSubmitted": file_submitted,
}

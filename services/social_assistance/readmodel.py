"""Read models of the social assistance (dibao) events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent (for its time). Handlers use only event data, never the clock, so a
rebuild from the event store gives the same rows.
"""
from __future__ import annotations

import json
from decimal import Decimal

SOURCE = "social_assistance"

TABLES = {
    "households": """
        household_id uuid PRIMARY KEY, area text NOT NULL, registration text NOT NULL,
        size int NOT NULL, members jsonb NOT NULL, registered_at timestamptz NOT NULL""",
    "cases": """
        case_id uuid PRIMARY KEY, household_id uuid NOT NULL, area text NOT NULL,
        scheme text NOT NULL, size int NOT NULL, status text NOT NULL,
        per_capita_income numeric(12,2), allowance numeric(12,2) NOT NULL DEFAULT 0,
        applied_on date NOT NULL, updated_at timestamptz NOT NULL""",
    "payments": """
        case_id uuid NOT NULL, month text NOT NULL, kind text NOT NULL, area text NOT NULL,
        scheme text NOT NULL, amount numeric(12,2) NOT NULL, back_pay numeric(12,2) NOT NULL,
        paid_at timestamptz NOT NULL, PRIMARY KEY (case_id, month)""",
    "marginal_households": """
        record_id uuid PRIMARY KEY, household_id uuid NOT NULL, area text NOT NULL,
        status text NOT NULL, per_capita_income numeric(12,2) NOT NULL""",
    "marginal_relief": """
        record_id uuid NOT NULL, year int NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, PRIMARY KEY (record_id, year)""",
    "donations": """
        drive_id uuid NOT NULL, version int NOT NULL, year int NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, received_on date NOT NULL, PRIMARY KEY (drive_id, version)""",
    "standards": """
        area text NOT NULL, registration text NOT NULL, effective_month text NOT NULL,
        amount numeric(12,2) NOT NULL, PRIMARY KEY (area, registration, effective_month)""",
}

VIEWS = {
    # Per-area totals of what is in force now.
    "area_totals": """
        SELECT area,
               count(*) FILTER (WHERE status = 'active') AS active_cases,
               coalesce(sum(size) FILTER (WHERE status = 'active'), 0) AS persons_covered,
               coalesce(sum(size) FILTER (WHERE status = 'active' AND scheme = 'urban'), 0) AS urban_persons_covered,
               coalesce(sum(size) FILTER (WHERE status = 'active' AND scheme = 'rural'), 0) AS rural_persons_covered,
               coalesce(sum(allowance) FILTER (WHERE status = 'active'), 0) AS monthly_allowance,
               count(*) FILTER (WHERE status IN ('applied', 'verified')) AS pending_cases,
               count(*) FILTER (WHERE status = 'suspended') AS suspended_cases
        FROM {schema}.cases GROUP BY area""",
    "payments_by_month": """
        SELECT area, month, kind, count(*) AS payments, sum(amount) AS amount,
               sum(back_pay) AS back_pay
        FROM {schema}.payments GROUP BY area, month, kind""",
}

STATUS_OF_OUTCOME = {"suspended": "suspended", "terminated": "terminated"}

def household_registered(db, data, event):
    db.exec("""INSERT INTO {s}.households VALUES (%(id)s, %(area)s, %(reg)s, %(size)s,
               %(members)s, %(at)s) ON CONFLICT (household_id) DO NOTHING""",
               {"id": data["aggregate_id"], "area": data["area"], "reg": data["registration"],
                "size": len(data["members"]), "members": json.dumps(data["members"], ensure_ascii=False),
                "at": event["time"]})


def case_applied(db, data, event):
    db.exec("""INSERT INTO {s}.cases (case_id, household_id, area, scheme, size, status,
               applied_on, updated_at) VALUES (%(id)s, %(hh)s, %(area)s, %(scheme)s, %(size)s,
               'applied', %(on)s, %(at)s) ON CONFLICT (case_id) DO NOTHING""",
               {"id": data["aggregate_id"], "hh": data["household_id"], "area": data["area"],
                "scheme": data["scheme"], "size": data["size"], "on": data["applied_on"],
                "at": event["time"]})


def update_case(db, event, **columns):
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    db.exec(f"UPDATE {{s}}.cases SET {assignments}, updated_at = %(at)s WHERE case_id = %(id)s",
               {**columns, "at": event["time"], "id": event["data"]["aggregate_id"]})


def case_verified(db, data, event):
    update_case(db, event, status="verified", per_capita_income=data["per_capita_income"])


def case_approved(db, data, event):
    update_case(db, event, status="active", allowance=data["allowance"])


def set_status(status: str):
    def handler(db, data, event):
        update_case(db, event, status=status)
    return handler


def case_reviewed(db, data, event):
    update_case(db, event, status=STATUS_OF_OUTCOME.get(data["outcome"], "active"),
                      per_capita_income=data["per_capita_income"], allowance=data["allowance"])


def case_terminated(db, data, event):
    update_case(db, event, status="terminated", allowance="0.00")


def allowance_recomputed(db, data, event):
    update_case(db, event, allowance=data["allowance"])


def scheme_merged(db, data, event):
    db.exec("""UPDATE {s}.cases SET scheme = %(to)s, updated_at = %(at)s,
               allowance = CASE WHEN status = 'active' THEN %(allowance)s ELSE allowance END
               WHERE case_id = %(id)s""",
               {"to": data["to_scheme"], "allowance": data["allowance"], "at": event["time"],
                "id": data["aggregate_id"]})


def case_paid(db, data, event):
    back_pay = sum((Decimal(v) for v in data["back_pay"].values()), Decimal("0.00"))
    db.exec("""INSERT INTO {s}.payments
               SELECT case_id, %(month)s, %(kind)s, area, scheme, %(amount)s, %(back)s, %(at)s
               FROM {s}.cases WHERE case_id = %(id)s
               ON CONFLICT (case_id, month) DO NOTHING""",
               {"id": data["aggregate_id"], "month": data["month"], "kind": data["kind"],
                "amount": data["amount"], "back": back_pay, "at": event["time"]})


def marginal_registered(db, data, event):
    db.exec("""INSERT INTO {s}.marginal_households VALUES (%(id)s, %(hh)s, %(area)s,
               'registered', %(pci)s) ON CONFLICT (record_id) DO NOTHING""",
               {"id": data["aggregate_id"], "hh": data["household_id"], "area": data["area"],
                "pci": data["per_capita_income"]})


def marginal_reviewed(db, data, event):
    db.exec("""UPDATE {s}.marginal_households SET status = %(status)s,
               per_capita_income = %(pci)s WHERE record_id = %(id)s""",
               {"status": "registered" if data["outcome"] == "still_marginal" else "removed",
                "pci": data["per_capita_income"], "id": data["aggregate_id"]})


def relief_paid(db, data, event):
    db.exec("""INSERT INTO {s}.marginal_relief
               SELECT record_id, %(year)s, area, %(amount)s FROM {s}.marginal_households
               WHERE record_id = %(id)s ON CONFLICT DO NOTHING""",
               {"id": data["aggregate_id"], "year": data["year"], "amount": data["amount"]})


def donation_received(db, data, event):
    year = int(data["received_on"][:4])
    db.exec("""INSERT INTO {s}.donations VALUES (%(id)s, %(v)s, %(year)s, %(area)s,
               %(amount)s, %(on)s) ON CONFLICT DO NOTHING""",
               {"id": data["aggregate_id"], "v": data["aggregate_version"], "year": year,
                "area": data["area"], "amount": data["amount"], "on": data["received_on"]})


def standard_set(db, data, event):
    upsert_standard(db, data["area"], data["registration"], data["effective_month"],
                          data["amount"])


def standards_raised(db, data, event):
    for entry in data["amounts"]:
        upsert_standard(db, entry["area"], entry["registration"],
                              data["effective_month"], entry["amount"])


def upsert_standard(db, area, registration, month, amount):
    db.exec("""INSERT INTO {s}.standards VALUES (%(a)s, %(r)s, %(m)s, %(amt)s)
               ON CONFLICT (area, registration, effective_month) DO UPDATE SET amount = EXCLUDED.amount""",
               {"a": area, "r": registration, "m": month, "amt": amount})


HANDLERS = {
    "HouseholdRegistered": household_registered,
    "CaseApplied": case_applied,
    "CaseVerified": case_verified,
    "CaseApproved": case_approved,
    "CaseRejected": set_status("rejected"),
    "CaseReviewed": case_reviewed,
    "CaseTerminated": case_terminated,
    "CaseAllowanceRecomputed": allowance_recomputed,
    "CaseSchemeMerged": scheme_merged,
    "CasePaid": case_paid,
    "MarginalHouseholdRegistered": marginal_registered,
    "MarginalHouseholdReviewed": marginal_reviewed,
    "MarginalHouseholdReliefPaid": relief_paid,
    "DonationDriveReceived": donation_received,
    "StandardScheduleSet": standard_set,
    "StandardScheduleRaised": standards_raised,
}

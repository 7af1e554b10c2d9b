"""Read models of the social welfare events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent. Handlers use only event data, never the clock, so a rebuild from the
event store gives the same rows. Identity numbers arrive masked; birth dates never arrive.
Every table and view is prefixed `wf_`. The index aggregates (Residency, Employment) and the
institution's bed book (BedTaken/BedFreed) need no rows: occupancy is counted from admissions.
"""
from __future__ import annotations

SOURCE = "welfare"

TABLES = {
    "wf_institutions": """
        institution_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL,
        kind text NOT NULL, beds int NOT NULL, registered_on date NOT NULL""",
    "wf_admissions": """
        admission_id uuid PRIMARY KEY, institution_id uuid NOT NULL, area text NOT NULL,
        name text NOT NULL, id_number text NOT NULL, bed int NOT NULL, admitted_on date NOT NULL,
        discharged_on date, status text NOT NULL""",
    "wf_care_workers": """
        worker_id uuid PRIMARY KEY, institution_id uuid NOT NULL, area text NOT NULL,
        name text NOT NULL, id_number text NOT NULL, registered_on date NOT NULL""",
    "wf_trainings": """
        worker_id uuid NOT NULL, version int NOT NULL, course text NOT NULL,
        completed_on date NOT NULL, passed boolean NOT NULL, PRIMARY KEY (worker_id, version)""",
    "wf_supported_persons": """
        person_id uuid PRIMARY KEY, category text NOT NULL, area text NOT NULL,
        name text NOT NULL, id_number text NOT NULL, registered_on date NOT NULL,
        mode text, admission_id uuid, institution_id uuid, arranged_on date,
        medical_provider text, medical_arranged_on date""",
    "wf_home_care_orders": """
        order_id uuid PRIMARY KEY, area text NOT NULL, service text NOT NULL,
        payment text NOT NULL, price numeric(12,2) NOT NULL, volunteer text NOT NULL,
        status text NOT NULL, placed_on date NOT NULL, closed_on date""",
    "wf_enterprises": """
        enterprise_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL,
        ownership text NOT NULL, registered_on date NOT NULL, other_staff int NOT NULL,
        flagged boolean NOT NULL DEFAULT false, restructuring_required boolean NOT NULL,
        restructured_on date, restructuring_form text, restructuring_deadline date,
        restructured_on_time boolean""",
    "wf_enterprise_employees": """
        enterprise_id uuid NOT NULL, employee_key uuid NOT NULL, name text NOT NULL,
        id_number text NOT NULL, hired_on date NOT NULL, left_on date,
        PRIMARY KEY (enterprise_id, employee_key)""",
    "wf_enterprise_wages": """
        enterprise_id uuid NOT NULL, month text NOT NULL, employee_key uuid NOT NULL,
        wage numeric(12,2) NOT NULL, social_insurance numeric(12,2) NOT NULL,
        minimum_wage numeric(12,2) NOT NULL, PRIMARY KEY (enterprise_id, month, employee_key)""",
    "wf_enterprise_rebates": """
        enterprise_id uuid NOT NULL, period text NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, granted_on date NOT NULL,
        PRIMARY KEY (enterprise_id, period)""",
}

VIEWS = {
    # Beds and residents now, per area.
    "wf_area_elderly_care": """
        SELECT i.area, count(*) AS institutions,
               count(*) FILTER (WHERE i.kind = 'public') AS public_institutions,
               count(*) FILTER (WHERE i.kind = 'private') AS private_institutions,
               sum(i.beds) AS beds, coalesce(sum(r.residents), 0) AS occupied
        FROM {schema}.wf_institutions i
        LEFT JOIN (SELECT institution_id, count(*) AS residents FROM {schema}.wf_admissions
                   WHERE status = 'resident' GROUP BY institution_id) r USING (institution_id)
        GROUP BY i.area""",
    # Care workers and those with a passed course, per area.
    "wf_area_care_workers": """
        SELECT w.area, count(*) AS workers,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {schema}.wf_trainings t
                                              WHERE t.worker_id = w.worker_id AND t.passed)) AS trained
        FROM {schema}.wf_care_workers w GROUP BY w.area""",
    # Persons under special support and their arrangements, per area and category.
    "wf_area_special_support": """
        SELECT area, category, count(*) AS persons,
               count(mode) AS arranged,
               count(*) FILTER (WHERE mode = 'centralized') AS centralized,
               count(*) FILTER (WHERE mode = 'dispersed') AS dispersed,
               count(*) FILTER (WHERE mode = 'dispersed' AND medical_provider IS NOT NULL)
                   AS dispersed_with_medical_care,
               count(*) FILTER (WHERE category = 'three_no' AND mode = 'dispersed'
                                AND medical_provider IS NULL) AS flagged_without_medical_care
        FROM {schema}.wf_supported_persons GROUP BY area, category""",
    # The plan's flag: dispersed urban three-no persons without a medical-care arrangement.
    "wf_medical_care_flags": """
        SELECT person_id, area, name, id_number, arranged_on
        FROM {schema}.wf_supported_persons
        WHERE category = 'three_no' AND mode = 'dispersed' AND medical_provider IS NULL""",
    # Welfare enterprises now, per area.
    "wf_area_enterprises": """
        SELECT e.area, count(*) AS enterprises,
               count(*) FILTER (WHERE e.flagged) AS flagged,
               count(*) FILTER (WHERE e.restructuring_required) AS restructuring_required,
               count(*) FILTER (WHERE e.restructuring_required AND e.restructured_on IS NOT NULL)
                   AS restructured,
               count(*) FILTER (WHERE e.restructuring_required AND e.restructured_on_time)
                   AS restructured_on_time,
               coalesce(sum(d.disabled), 0) AS disabled_employees,
               coalesce(sum(d.disabled), 0) + sum(e.other_staff) AS staff
        FROM {schema}.wf_enterprises e
        LEFT JOIN (SELECT enterprise_id, count(*) AS disabled FROM {schema}.wf_enterprise_employees
                   WHERE left_on IS NULL GROUP BY enterprise_id) d USING (enterprise_id)
        GROUP BY e.area""",
}


# --- elderly care ---------------------------------------------------------------------------------

def institution_registered(db, data, event):
    db.exec("""INSERT INTO {s}.wf_institutions VALUES (%(id)s, %(area)s, %(name)s, %(kind)s,
               %(beds)s, %(on)s) ON CONFLICT (institution_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"],
             "kind": data["kind"], "beds": data["beds"], "on": data["registered_on"]})


def beds_changed(db, data, event):
    db.exec("UPDATE {s}.wf_institutions SET beds = %(beds)s WHERE institution_id = %(id)s",
            {"beds": data["beds"], "id": data["aggregate_id"]})


def admission_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.wf_admissions VALUES (%(id)s, %(inst)s, %(area)s, %(name)s,
               %(number)s, %(bed)s, %(on)s, NULL, 'resident') ON CONFLICT (admission_id) DO NOTHING""",
            {"id": data["aggregate_id"], "inst": data["institution_id"], "area": data["area"],
             "name": data["name"], "number": data["id_number"], "bed": data["bed"],
             "on": data["admitted_on"]})


def admission_discharged(db, data, event):
    db.exec("""UPDATE {s}.wf_admissions SET status = 'discharged', discharged_on = %(on)s
               WHERE admission_id = %(id)s""", {"on": data["discharged_on"], "id": data["aggregate_id"]})


# --- care workers ---------------------------------------------------------------------------------

def care_worker_registered(db, data, event):
    db.exec("""INSERT INTO {s}.wf_care_workers VALUES (%(id)s, %(inst)s, %(area)s, %(name)s,
               %(number)s, %(on)s) ON CONFLICT (worker_id) DO NOTHING""",
            {"id": data["aggregate_id"], "inst": data["institution_id"], "area": data["area"],
             "name": data["name"], "number": data["id_number"], "on": data["registered_on"]})


def training_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.wf_trainings VALUES (%(id)s, %(v)s, %(course)s, %(on)s, %(passed)s)
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "course": data["course"],
             "on": data["completed_on"], "passed": data["passed"]})


# --- special support ------------------------------------------------------------------------------

def supported_person_registered(db, data, event):
    db.exec("""INSERT INTO {s}.wf_supported_persons (person_id, category, area, name, id_number,
               registered_on) VALUES (%(id)s, %(category)s, %(area)s, %(name)s, %(number)s, %(on)s)
               ON CONFLICT (person_id) DO NOTHING""",
            {"id": data["aggregate_id"], "category": data["category"], "area": data["area"],
             "name": data["name"], "number": data["id_number"], "on": data["registered_on"]})


def support_arranged(db, data, event):
    db.exec("""UPDATE {s}.wf_supported_persons SET mode = %(mode)s, admission_id = %(adm)s,
               institution_id = %(inst)s, arranged_on = %(on)s WHERE person_id = %(id)s""",
            {"mode": data["mode"], "adm": data["admission_id"], "inst": data["institution_id"],
             "on": data["arranged_on"], "id": data["aggregate_id"]})


def support_arrangement_ended(db, data, event):
    db.exec("""UPDATE {s}.wf_supported_persons SET mode = NULL, admission_id = NULL,
               institution_id = NULL, arranged_on = NULL WHERE person_id = %(id)s""",
            {"id": data["aggregate_id"]})


def medical_care_arranged(db, data, event):
    db.exec("""UPDATE {s}.wf_supported_persons SET medical_provider = %(provider)s,
               medical_arranged_on = %(on)s WHERE person_id = %(id)s""",
            {"provider": data["provider"], "on": data["arranged_on"], "id": data["aggregate_id"]})


# --- home care ------------------------------------------------------------------------------------

def order_placed(db, data, event):
    db.exec("""INSERT INTO {s}.wf_home_care_orders VALUES (%(id)s, %(area)s, %(service)s,
               %(payment)s, %(price)s, %(volunteer)s, 'placed', %(on)s, NULL)
               ON CONFLICT (order_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "service": data["service"],
             "payment": data["payment"], "price": data["price"], "volunteer": data["volunteer"],
             "on": data["placed_on"]})


def order_closed(status: str, day_field: str):
    def handler(db, data, event):
        db.exec("""UPDATE {s}.wf_home_care_orders SET status = %(status)s, closed_on = %(on)s
                   WHERE order_id = %(id)s""",
                {"status": status, "on": data[day_field], "id": data["aggregate_id"]})
    return handler


# --- welfare enterprises --------------------------------------------------------------------------

def enterprise_registered(db, data, event):
    db.exec("""INSERT INTO {s}.wf_enterprises (enterprise_id, area, name, ownership, registered_on,
               other_staff, restructuring_required) VALUES (%(id)s, %(area)s, %(name)s,
               %(ownership)s, %(on)s, %(other)s, %(required)s) ON CONFLICT (enterprise_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"],
             "ownership": data["ownership"], "on": data["registered_on"],
             "other": data["other_staff"], "required": data["restructuring_required"]})


def update_enterprise(db, data, **columns):
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    db.exec(f"UPDATE {{s}}.wf_enterprises SET {assignments} WHERE enterprise_id = %(id)s",
            {**columns, "id": data["aggregate_id"]})


def staff_reported(db, data, event):
    update_enterprise(db, data, other_staff=data["other_staff"])


def set_flag(flagged: bool):
    def handler(db, data, event):
        update_enterprise(db, data, flagged=flagged)
    return handler


def employee_hired(db, data, event):
    db.exec("""INSERT INTO {s}.wf_enterprise_employees VALUES (%(id)s, %(key)s, %(name)s,
               %(number)s, %(on)s, NULL) ON CONFLICT (enterprise_id, employee_key)
               DO UPDATE SET hired_on = EXCLUDED.hired_on, left_on = NULL, name = EXCLUDED.name""",
            {"id": data["aggregate_id"], "key": data["employee_key"], "name": data["name"],
             "number": data["id_number"], "on": data["hired_on"]})


def employee_left(db, data, event):
    db.exec("""UPDATE {s}.wf_enterprise_employees SET left_on = %(on)s
               WHERE enterprise_id = %(id)s AND employee_key = %(key)s""",
            {"on": data["left_on"], "id": data["aggregate_id"], "key": data["employee_key"]})


def wages_recorded(db, data, event):
    for line in data["wages"]:
        db.exec("""INSERT INTO {s}.wf_enterprise_wages VALUES (%(id)s, %(month)s, %(key)s,
                   %(wage)s, %(insurance)s, %(minimum)s) ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "month": data["month"], "key": line["employee_key"],
                 "wage": line["wage"], "insurance": line["social_insurance"],
                 "minimum": data["minimum_wage"]})


def restructured(db, data, event):
    update_enterprise(db, data, restructured_on=data["completed_on"], restructuring_form=data["form"],
                      restructuring_deadline=data["deadline"], restructured_on_time=data["on_time"])


def rebate_granted(db, data, event):
    db.exec("""INSERT INTO {s}.wf_enterprise_rebates
               SELECT enterprise_id, %(period)s, area, %(amount)s, %(on)s FROM {s}.wf_enterprises
               WHERE enterprise_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "period": data["period"], "amount": data["amount"],
             "on": data["granted_on"]})


HANDLERS = {
    "InstitutionRegistered": institution_registered,
    "InstitutionBedsChanged": beds_changed,
    "AdmissionRecorded": admission_recorded,
    "AdmissionDischarged": admission_discharged,
    "CareWorkerRegistered": care_worker_registered,
    "CareWorkerTrainingRecorded": training_recorded,
    "SupportedPersonRegistered": supported_person_registered,
    "SupportedPersonArranged": support_arranged,
    "SupportedPersonArrangementEnded": support_arrangement_ended,
    "SupportedPersonMedicalCareArranged": medical_care_arranged,
    "HomeCareOrderPlaced": order_placed,
    "HomeCareOrderDelivered": order_closed("delivered", "delivered_on"),
    "HomeCareOrderCancelled": order_closed("cancelled", "cancelled_on"),
    "WelfareEnterpriseRegistered": enterprise_registered,
    "WelfareEnterpriseStaffReported": staff_reported,
    "WelfareEnterpriseFlagged": set_flag(True),
    "WelfareEnterpriseQualified": set_flag(False),
    "WelfareEnterpriseDisabledEmployeeHired": employee_hired,
    "WelfareEnterpriseDisabledEmployeeLeft": employee_left,
    "WelfareEnterpriseWagesRecorded": wages_recorded,
    "WelfareEnterpriseRestructured": restructured,
    "WelfareEnterpriseRebateGranted": rebate_granted,
}

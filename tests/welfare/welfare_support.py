"""Helpers of the welfare tests: the application on in-memory persistence (AES cipher on),
people with valid identity numbers, small set-ups the stories share, and the projection's
ReadModel running the welfare source module in a schema of the tests' own."""
from __future__ import annotations

import itertools
from datetime import date

import psycopg
from eventsourcing.cryptography import AESCipher
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql
from stdnum.cn import ric

TODAY = date(2007, 12, 31)
READ_MODEL = "wf_read_model"   # the welfare tests' own read-model schema
# The 2007 welfare targets the lead adds to data/targets/2007.json.
WELFARE_TARGETS = {
    "elderly_care_beds_per_1000_aged_60_plus": {"op": ">=", "value": 17},
    "elderly_care_worker_training_ratio": {"op": ">=", "value": 0.8},
    "special_support_ratio": {"op": ">=", "value": 1.0},
    "welfare_enterprises_restructured_ratio": {"op": ">=", "value": 1.0},
}
_serial = itertools.count(1)


def memory_welfare(today: date = TODAY):
    from services.welfare.application import Welfare
    return Welfare({"PERSISTENCE_MODULE": "eventsourcing.popo",
                    "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_welfare(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.welfare.application import Welfare
    return Welfare(today=lambda: today)


def person(name: str = "王秀英", born: str = "1930-05-06", area_code: str = "320404") -> dict:
    """A person with a valid GB 11643-1999 number (check digit by python-stdnum)."""
    body = f"{area_code}{born.replace('-', '')}{next(_serial) % 1000:03d}"
    return {"id_number": body + ric.calc_check_digit(body + "0"), "name": name, "birth_date": born}


def worker(name: str = "李娟") -> dict:
    found = person(name, "1965-03-08")
    return {"id_number": found["id_number"], "name": name}


def admit(app, institution_id: str, who: dict | None = None, on: str = "2007-02-01", bed=None) -> str:
    who = who or person()
    return app.admit(institution_id, who["id_number"], who["name"], who["birth_date"], on, bed)


def enterprise_with(app, disabled: int, other_staff: int, area: str = "xilin",
                    ownership: str = "collective") -> tuple[str, list[dict]]:
    """A welfare enterprise with `disabled` disabled employees hired in January."""
    enterprise = app.register_enterprise(area, "钟楼福利纸箱厂", ownership, other_staff, "1992-05-01")
    employees = [worker(f"职工{i}") for i in range(disabled)]
    for employee in employees:
        app.hire_disabled_employee(enterprise, employee["id_number"], employee["name"], "2007-01-08")
    return enterprise, employees


def drive_welfare_year(app) -> dict:
    """A small 2007 with known numbers (the projection and reporting tests check them):
    beigang (9,200 aged 60+): a public institution of 100 beds and a private one of 60
      (17.39 per 1,000: target met); three admitted, one discharged; four care workers, three
      trained (75%); two three-no persons, one centralized, one dispersed without medical care.
    xilin (8,600): a public institution of 140 beds (16.28 per 1,000: not met), one resident;
      one care worker, trained; two five-guarantee persons, one dispersed, one not arranged;
      a collective welfare enterprise, 10 disabled of 30 staff, restructured on time, February
      wages 10 x 800.00 (+100.00 insurance), rebates for 2006-12 (5,000) and 2007-03 (12,000).
    xinzha: a state enterprise, 12 disabled of 52 (flagged), restructured late (2007-07-10).
    wuxing: a private enterprise without disabled staff (flagged); home-care orders: paid 30.00
      delivered, low-cost 10.00 delivered, free cancelled, paid 25.00 still placed, and a
      low-cost 5.00 order of 2006 delivered.
    """
    a = app.register_institution("beigang", "北港敬老院", "public", 100, "1998-01-01")
    b = app.register_institution("beigang", "北港颐养院", "private", 60, "2006-06-01")
    c = app.register_institution("xilin", "西林敬老院", "public", 140, "1995-01-01")
    centralized = person("钱秀兰", "1929-01-01")
    stays = [admit(app, a, centralized), admit(app, a), admit(app, b), admit(app, c)]
    app.discharge(stays[1], "2007-06-30", "returned home")
    for index, passed in enumerate((True, True, True, False)):
        who = worker(f"护理员{index}")
        worker_id = app.register_care_worker(a, who["id_number"], who["name"], "2006-01-01")
        app.record_training(worker_id, "养老护理员初级", "2007-04-01", passed)
    who = worker("西林护理员")
    app.record_training(app.register_care_worker(c, who["id_number"], who["name"], "2006-01-01"),
                        "养老护理员初级", "2007-04-01", True)

    def supported(category, area, who):
        return app.register_supported_person(category, area, who["id_number"], who["name"],
                                             who["birth_date"], "2007-01-05")
    app.arrange_support(supported("three_no", "beigang", centralized), "centralized", "2007-02-01",
                        stays[0])
    app.arrange_support(supported("three_no", "beigang", person()), "dispersed", "2007-02-01")
    app.arrange_support(supported("five_guarantee", "xilin", person()), "dispersed", "2007-02-01")
    supported("five_guarantee", "xilin", person())

    orders = {"paid": app.place_order("wuxing", "周老太", "housekeeping", "paid", "30.00", "2007-03-01"),
              "low": app.place_order("wuxing", "周老太", "housekeeping", "low_cost", "10.00", "2007-03-01"),
              "free": app.place_order("wuxing", "吴老伯", "companionship", "free", "0", "2007-03-01", "小刘"),
              "old": app.place_order("wuxing", "吴老伯", "housekeeping", "low_cost", "5.00", "2006-12-30")}
    app.place_order("wuxing", "郑老太", "medical_care", "paid", "25.00", "2007-12-20")
    for key in ("paid", "low", "old"):
        app.deliver_order(orders[key], "2007-03-02")
    app.cancel_order(orders["free"], "2007-03-02", "elder in hospital")

    e1, staff = enterprise_with(app, disabled=10, other_staff=20)
    app.restructure(e1, "2007-05-31", "股份合作制")
    app.record_wages(e1, "2007-02", [{"id_number": e["id_number"], "wage": "800.00",
                                      "social_insurance": "100.00"} for e in staff])
    app.grant_rebate(e1, "2006-12", "5000.00", "2007-01-10")
    app.grant_rebate(e1, "2007-03", "12000.00", "2007-04-10")
    e2, _ = enterprise_with(app, disabled=12, other_staff=40, area="xinzha", ownership="state")
    app.restructure(e2, "2007-07-10", "有限责任公司")
    app.register_enterprise("wuxing", "五星民营福利厂", "private", 8, "2007-08-01")
    return {"institutions": (a, b, c), "stays": stays, "enterprises": (e1, e2)}


def welfare_targets() -> dict:
    """data/targets/2007.json with the welfare targets (until the file has them itself)."""
    from shared.referencedata import load_targets
    targets = load_targets(2007)
    targets["targets"] = {**WELFARE_TARGETS, **targets["targets"]}
    return targets


def read_model(database, schema: str):
    """ReadModel(datastore, sources=[welfare]) in a schema of its own."""
    from services.welfare import readmodel as welfare_source
    from services.projection.readmodel import ReadModel
    with psycopg.connect(database.pg_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    datastore = PostgresDatastore(dbname=database.pg_dbname, host=database.pg_host,
                                  port=database.pg_port, user=database.pg_user,
                                  password=database.pg_password, schema=schema, pool_size=2)
    model = ReadModel(datastore, sources=[welfare_source])
    model.create_table()
    return model



"""Helpers of the military support tests: the application on in-memory or real persistence with
a fixed clock (the last day of 2007), people with valid identity numbers, a small year with
known numbers, and a read model fed by this source only."""
from __future__ import annotations

import itertools
from datetime import date

from eventsourcing.cryptography import AESCipher

from tests.support import id_number

TODAY = date(2007, 12, 31)
SERVICE = "military_support"
_serial = itertools.count(1)


def memory_app(today: date = TODAY):
    from services.military_support.application import MilitarySupport
    return MilitarySupport({"PERSISTENCE_MODULE": "eventsourcing.popo",
                            "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_app(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.military_support.application import MilitarySupport
    return MilitarySupport(today=lambda: today)


def person(name: str = "张建军", born: str = "1950-03-04") -> dict:
    """A person with a valid GB 11643-1999 number; each call a different one."""
    return {"id_number": id_number(born.replace("-", ""), seq=next(_serial) % 999 + 1),
            "name": name, "birth_date": born}


def register(app, category: str = "disabled_serviceman", area: str = "beigang", grade=None,
             cause=None, who: dict | None = None, on: str = "2006-05-01") -> str:
    who = who or person()
    if category == "disabled_serviceman" and grade is None:
        grade, cause = 3, cause or "war"
    return app.register_beneficiary(category, area, who["id_number"], who["name"], who["birth_date"],
                                    on, grade, cause)


def published(app) -> list[dict]:
    from shared import contract
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [contract.as_dict(e) for e in contract.to_cloudevents(app, notifications)]


def read_model(cfg, schema: str):
    """A ReadModel fed by the military support source only, in a schema of its own."""
    from eventsourcing.postgres import PostgresDatastore

    from services.military_support import readmodel as ms_projection
    from services.projection.readmodel import ReadModel
    from shared.db import ensure_schema
    ensure_schema(cfg, schema)
    datastore = PostgresDatastore(dbname=cfg.pg_dbname, host=cfg.pg_host, port=cfg.pg_port,
                                  user=cfg.pg_user, password=cfg.pg_password, schema=schema,
                                  pre_ping=True, pool_size=2)
    model = ReadModel(datastore, sources=[ms_projection])
    model.create_table()
    return model


CHANNELS = ("window", "policy", "technology", "legal", "culture", "functional", "socialized",
            "information")


def drive_story(app) -> dict:
    """A small 2007 with known numbers (projection and reporting tests check them):
    beigang: disabled servicemen grade 1 war (insured), grade 5 duty (insured), grade 6 illness
      (NOT insured), grade 8 duty (in the assistance scheme, one claim of 1,000 -> 600 paid in
      July at 60 %); a martyr's family; all registered in 2006.
    xilin: a demobilised veteran and a war veteran (the veteran's benefits end 2007-03-15);
      a died-on-duty family registered 2007-09-10.
    Monthly runs January to December (January run twice); the veteran paid January to March,
      the family from September.
    Workers: two received (2007-02-01 and 2007-06-01), the first placed 2007-05-01; living
      allowance 800 in February, social insurance 600 in March for the first.
    Double support: one activity per channel in beigang (window twice, 40 participants each),
      four sessions (party_school/cadres 120, school/students 300 x2, media/public 1000),
      three pairs, one dissolved; the 2007 evidence file is not submitted.
    """
    ids: dict = {}
    ids["g1"] = register(app, grade=1, cause="war")
    ids["g5"] = register(app, grade=5, cause="duty")
    ids["g6"] = register(app, grade=6, cause="illness")
    ids["g8"] = register(app, grade=8, cause="duty")
    ids["martyr"] = register(app, "martyr_family")
    ids["demob"] = register(app, "demobilised_veteran", area="xilin")
    ids["war_vet"] = register(app, "war_veteran", area="xilin")
    app.enroll_insurance(ids["g1"], "disabled_servicemen", "2006-06-01")
    app.enroll_insurance(ids["g5"], "urban_employee", "2007-03-01")
    app.join_assistance(ids["g8"], "2007-01-10")
    app.run_benefits("2007-01")
    app.run_benefits("2007-01")
    for m in (2, 3):
        app.run_benefits(f"2007-{m:02d}")
    app.end_benefits(ids["war_vet"], "2007-03-15", "去世")
    for m in range(4, 9):
        app.run_benefits(f"2007-{m:02d}")
    ids["family"] = register(app, "died_on_duty_family", area="xilin", on="2007-09-10")
    for m in range(9, 13):
        app.run_benefits(f"2007-{m:02d}")
    app.claim_assistance(ids["g8"], "2007-07-20", "1000.00")
    w1, w2 = person("赵国庆", "1960-01-01"), person("钱卫东", "1962-02-02")
    ids["w1"] = app.receive_worker("beigang", w1["id_number"], w1["name"], w1["birth_date"], "某部队医院", "2007-02-01")
    ids["w2"] = app.receive_worker("xinzha", w2["id_number"], w2["name"], w2["birth_date"], "某部队仓库", "2007-06-01")
    app.pay_worker_benefit(ids["w1"], "2007-02", "living_allowance", "800.00")
    app.pay_worker_benefit(ids["w1"], "2007-03", "social_insurance", "600.00")
    app.place_worker(ids["w1"], "钟楼区环卫处", "2007-05-01")
    for channel in CHANNELS:
        app.record_activity(channel, "beigang", f"{channel} 拥军", "某部三营", "2007-04-10", 40)
    app.record_activity("window", "beigang", "双拥一条街", "某部三营", "2007-08-01", 40)
    app.hold_education_session("party_school", "cadres", "beigang", "国防形势", "2007-05-10", 120)
    app.hold_education_session("school", "students", "xilin", "国防知识", "2007-09-10", 300)
    app.hold_education_session("school", "students", "xilin", "国防知识", "2007-10-10", 300)
    app.hold_education_session("media", "public", "wuxing", "全民国防教育日", "2007-09-15", 1000)
    ids["pairs"] = [app.form_pair("beigang", "北港社区", "某部三营", "2006-08-01"),
                    app.form_pair("xilin", "西林中学", "某部通信连", "2007-03-01"),
                    app.form_pair("wuxing", "五星街道", "武警中队", "2007-04-01")]
    app.dissolve_pair(ids["pairs"][2], "2007-11-01", "部队移防")
    return ids

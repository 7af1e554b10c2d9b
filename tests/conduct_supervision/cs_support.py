"""Helpers of the conduct supervision tests: the application on in-memory or real persistence with
a fixed clock (the last day of 2007), supervisors with valid identity numbers, a small year with
known numbers, and a read model fed by this source only."""
from __future__ import annotations

import itertools
from datetime import date

from eventsourcing.cryptography import AESCipher

from tests.support import id_number

TODAY = date(2007, 12, 31)
SERVICE = "conduct_supervision"
_serial = itertools.count(1)


def memory_app(today: date = TODAY):
    from services.conduct_supervision.application import ConductSupervision
    return ConductSupervision({"PERSISTENCE_MODULE": "eventsourcing.popo",
                               "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_app(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.conduct_supervision.application import ConductSupervision
    return ConductSupervision(today=lambda: today)


def person(name: str = "周淑芬", born: str = "1956-03-04") -> dict:
    """A person with a valid GB 11643-1999 number; each call a different one."""
    return {"id_number": id_number(born.replace("-", ""), seq=next(_serial) % 999 + 1), "name": name}


def appoint(app, area: str = "beigang", community: str = "beigang_beigang", who: dict | None = None,
            on: str = "2007-03-01", until: str = "2008-12-31", phone: str = "0519-86601234") -> str:
    who = who or person()
    return app.appoint_supervisor(area, community, who["id_number"], who["name"], phone, on, until)


def officer(app, officer_id: str = "officer-li", name: str = "李明", department: str = "社会救助科",
            joined_on: str = "2005-01-01") -> str:
    return app.register_officer(officer_id, name, department, joined_on)


def complaint(app, area: str = "beigang", on: str = "2007-03-01", kind: str = "complaint",
              subject_kind: str = "window", subject: str = "dibao_window") -> str:
    return app.receive_complaint(kind, area, subject_kind, subject, "王小红", "13812345678",
                                 "窗口办事拖延", on)


def published(app) -> list[dict]:
    from shared import contract
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [contract.as_dict(e) for e in contract.to_cloudevents(app, notifications)]


def read_model(cfg, schema: str):
    """A ReadModel fed by the conduct supervision source only, in a schema of its own."""
    from eventsourcing.postgres import PostgresDatastore

    from services.conduct_supervision import readmodel as cs_projection
    from services.projection.readmodel import ReadModel
    from shared.db import ensure_schema
    ensure_schema(cfg, schema)
    datastore = PostgresDatastore(dbname=cfg.pg_dbname, host=cfg.pg_host, port=cfg.pg_port,
                                  user=cfg.pg_user, password=cfg.pg_password, schema=schema,
                                  pre_ping=True, pool_size=2)
    model = ReadModel(datastore, sources=[cs_projection])
    model.create_table()
    return model


def drive_story(app) -> dict:
    """A small 2007 with known numbers (projection and reporting tests check them):
    supervisors: beigang x2 (2007-03-01; one dismissed 2007-09-01), xilin x1 (2007-04-01), and one
      in nandajie appointed 2006-05-01 (term to 2007-04-30, renewed 2007-04-20 to 2008-12-31):
      3 newly appointed in 2007.
    officers: officer-li (beigang_beigang, beigang_shuanggui), officer-wang (xilin_xilin),
      officer-zhao (no community); officer-sun registered and left 2007-06-30.
    visits: officer-li to beigang_beigang 2007-05-10 (two opinions, the first followed up).
    reviews: dibao_window by a resident (90) and by the active supervisor (70); officer-li by
      officer-wang (85).
    complaints (beigang x3, xilin x1): c1 answered and accepted; c2 answered, not accepted,
      escalated (open, deadline 2007-06-23 < today: overdue); c3 a suggestion answered awaiting
      the response; c4 in xilin received 2007-12-01 (deadline 2007-12-11: overdue, never answered).
    efficiency: dibao_window 2007-Q1 95 by mystery_visit, marriage_window 2007-Q1 72 (measures).
    breaches: officer-wang p3_delay 2007-04-01, handled by a talk.
    assessments 2007: officer-li excellent (rewarded), officer-wang competent; officer-zhao not.
    """
    ids: dict = {}
    ids["s1"] = appoint(app)
    ids["s2"] = appoint(app, community="beigang_shuanggui")
    ids["s3"] = appoint(app, "xilin", "xilin_yangjia", on="2007-04-01")
    ids["s_old"] = appoint(app, "nandajie", "nandajie_wenhuagong", on="2006-05-01", until="2007-04-30")
    app.renew_supervisor(ids["s_old"], "2007-04-20", "2008-12-31")
    app.dismiss_supervisor(ids["s2"], "2007-09-01", "迁出本社区")
    for officer_id, name, dept in (("officer-li", "李明", "社会救助科"), ("officer-wang", "王芳", "优抚安置科"),
                                   ("officer-zhao", "赵强", "办公室"), ("officer-sun", "孙丽", "社会事务科")):
        officer(app, officer_id, name, dept)
    app.assign_community("officer-li", "beigang_beigang", "2007-02-01")
    app.assign_community("officer-li", "beigang_shuanggui", "2007-02-01")
    app.assign_community("officer-wang", "xilin_xilin", "2007-02-01")
    app.assign_community("officer-sun", "xinzha_zhouzhuang", "2007-02-01")
    app.officer_leaves("officer-sun", "2007-06-30", "调离")
    ids["visit"] = app.record_visit("officer-li", "beigang_beigang", "2007-05-10",
                                    ["低保申请材料太多", "希望延长窗口办公时间"])
    app.follow_up_opinion(ids["visit"], 1, "简化材料清单", "2007-06-01")
    ids["r1"] = app.record_review("window", "dibao_window", "resident", None, 90, "态度好", "2007-06-10")
    ids["r2"] = app.record_review("window", "dibao_window", "supervisor", ids["s1"], 70, "等候时间长", "2007-06-11")
    ids["r3"] = app.record_review("officer", "officer-li", "officer", "officer-wang", 85, "工作认真", "2007-06-12")
    ids["c1"] = complaint(app)
    app.answer_complaint(ids["c1"], "已整改", "2007-03-05", "officer-li")
    app.respond_to_answer(ids["c1"], True, "2007-03-06")
    ids["c2"] = complaint(app, on="2007-06-01", subject_kind="officer", subject="officer-li")
    app.answer_complaint(ids["c2"], "已核实", "2007-06-10", "officer-zhao")
    app.respond_to_answer(ids["c2"], False, "2007-06-13", "escalated")
    ids["c3"] = complaint(app, on="2007-08-01", kind="suggestion")
    app.answer_complaint(ids["c3"], "采纳", "2007-08-30", "officer-li")
    ids["c4"] = complaint(app, "xilin", on="2007-12-01", subject="marriage_window")
    ids["e1"] = app.assess_window("dibao_window", "2007-Q1", "mystery_visit", 95, "2007-04-05")
    ids["e2"] = app.assess_window("marriage_window", "2007-Q1", "file_check", 72, "2007-04-06", "增设导办员")
    app.record_breach("officer-wang", "p3_delay", "2007-04-01", "推诿群众办事")
    app.handle_breach("officer-wang", 1, "talk", "2007-04-10", "诫勉谈话一次")
    app.assess_officer("officer-li", 2007, "excellent", "excellent", "excellent", "excellent", "2007-12-20")
    app.assess_officer("officer-wang", 2007, "competent", "excellent", "competent", "competent", "2007-12-20")
    return ids

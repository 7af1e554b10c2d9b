"""Helpers of the social affairs tests: the application on in-memory or real persistence (AES
cipher on) with a fixed clock, people of a given sex with valid identity numbers, the halls of the
migration plan, and the projection's ReadModel running the social affairs source alone."""
from __future__ import annotations

import itertools
from datetime import date

from eventsourcing.cryptography import AESCipher
from stdnum.cn import ric

TODAY = date(2022, 12, 31)       # after the 2021 cooling-off rule, so both rules can be tried
READ_MODEL = "saf_read_model"     # the social affairs tests' own read-model schema
# The 2007 social affairs targets (data/targets/2007.json has the same keys).
TARGETS = {
    "social_affairs_marriage_qualification_ratio": {"op": ">=", "value": 1.0},
    "social_affairs_new_grave_mounds": {"op": "<=", "value": 0},
    "social_affairs_rebuilt_grave_mounds": {"op": "<=", "value": 0},
    "social_affairs_unresolved_grave_mounds": {"op": "<=", "value": 0},
    "social_affairs_migration_preparation_ratio": {"op": ">=", "value": 1.0},
    "social_affairs_halls_to_standard_ratio": {"op": ">=", "value": 1.0},
}
_serial = itertools.count(1)


def memory_app(today: date = TODAY):
    from services.social_affairs.application import SocialAffairs
    return SocialAffairs({"PERSISTENCE_MODULE": "eventsourcing.popo",
                          "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_app(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.social_affairs.application import SocialAffairs
    return SocialAffairs(today=lambda: today)


def number(born: str, sex: str, area_code: str = "320404") -> str:
    """A valid GB 11643-1999 number of a man ('M': odd sequence) or a woman ('F': even)."""
    n = next(_serial) % 499
    seq = n * 2 + (1 if sex == "M" else 2)
    body = f"{area_code}{born.replace('-', '')}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def party(born: str, sex: str, name: str = "", present: bool = True, unmarried: bool = True) -> dict:
    return {"id_number": number(born, sex), "name": name or ("张伟" if sex == "M" else "李娜"),
            "present": present, "declared_unmarried": unmarried}


def couple(man_born: str = "1980-03-04", woman_born: str = "1982-06-07") -> list[dict]:
    return [party(man_born, "M"), party(woman_born, "F")]


def marry(app, parties: list[dict] | None = None, on: str = "2007-05-20", area: str = "beigang",
          kin: bool = True) -> str:
    return app.register_marriage(area, parties or couple(), kin, on, "officer-wu")


def all_met(app, day: str = "2007-05-01") -> list[dict]:
    return [{"item": item, "met": True, "note": ""} for item in app.rules.standard_on(day).items]


def plan_halls(app) -> dict:
    """The halls of the migration plan (services/social_affairs/reference/funeral.json)."""
    return {"yonghong": app.register_hall("yonghong_hall", "永红骨灰纪念堂", "yonghong", "memorial_hall", 40, "1996-04-01"),
            "xilin": app.register_hall("xilin_hall", "西林骨灰纪念堂", "xilin", "memorial_hall", 30, "1998-09-01"),
            "beigang": app.register_hall("beigang_cemetery", "北港陵园", "beigang", "cemetery", 500, "2001-03-01")}


def place(app, hall_id: str, born: str = "1921-02-03", died: str = "2004-05-06", placed: str = "2004-05-10",
          niche=None) -> str:
    return app.place_urn(hall_id, number(born, "M"), "周老先生", died, placed, "officer-li", niche)


def published(app) -> list[dict]:
    """The notification log as the relay and the feed publish it (CloudEvent dicts)."""
    from tests.contract_support import publish_log
    return publish_log(app, "social_affairs")


def read_model(cfg, schema: str):
    """A ReadModel fed by the social affairs source only, in a schema of its own."""
    from eventsourcing.postgres import PostgresDatastore

    from services.projection.readmodel import ReadModel
    from services.social_affairs import readmodel as source
    from shared.db import ensure_schema
    ensure_schema(cfg, schema)
    datastore = PostgresDatastore(dbname=cfg.pg_dbname, host=cfg.pg_host, port=cfg.pg_port,
                                  user=cfg.pg_user, password=cfg.pg_password, schema=schema,
                                  pre_ping=True, pool_size=2)
    model = ReadModel(datastore, sources=[source])
    model.create_table()
    return model


def targets() -> dict:
    """data/targets/2007.json (which has the social affairs targets) as a document."""
    from shared.referencedata import load_targets
    document = load_targets(2007)
    document["targets"] = {**TARGETS, **document["targets"]}
    return document


def drive_story(app) -> dict:
    """A small 2007 (and 2008, 2021) with known numbers, for the projection and reporting tests:
    - halls: Yonghong (3 urns, prepared 2007-12-20, on time; 2 moved into Beigang in 2008),
      Xilin (2 urns, prepared 2008-01-10, late), Beigang cemetery, Xinzha hall (inspected in 2007
      with a finding corrected: to standard), Beigang hall (inspected, a finding left open).
    - mounds: Xinzha 2 new in March (one removed, one left unresolved), one rebuilt in June
      (moved into a cemetery); Xilin a clean inspection.
    - marriages: 3 registered in Beigang in 2007, one found unlawful in 2008 (qualification
      2/3); one refused application (below the legal age); one registered in Xilin in 2007.
    - divorces: one filed 2015 and registered the same day; one filed 2021-03-01, withdrawn;
      filed again 2021-05-01 and registered 2021-06-01.
    """
    halls = plan_halls(app)
    xinzha = app.register_hall("xinzha_hall", "新闸骨灰纪念堂", "xinzha", "memorial_hall", 50, "1999-01-01")
    beigang_hall = app.register_hall("beigang_hall", "北港骨灰纪念堂", "beigang", "memorial_hall", 60, "1997-01-01")
    yonghong = [place(app, halls["yonghong"]) for _ in range(3)]
    xilin = [place(app, halls["xilin"]) for _ in range(2)]
    app.complete_preparation(halls["yonghong"], "2007-12-20", "officer-li")
    app.complete_preparation(halls["xilin"], "2008-01-10", "officer-li")
    for urn in yonghong[:2]:
        app.move_urn(urn, halls["beigang"], "2008-05-01", "officer-li")
    findings = all_met(app)
    findings[0] = {"item": "rules_displayed", "met": False, "note": "制度未上墙"}
    app.inspect_hall(xinzha, "2007-05-01", "officer-sun", findings)
    app.correct_finding(xinzha, "rules_displayed", "2007-05-15", "officer-sun", "已上墙")
    findings = all_met(app)
    findings[1] = {"item": "records_kept", "met": False, "note": "台账不全"}
    app.inspect_hall(beigang_hall, "2007-06-01", "officer-sun", findings)
    march = app.inspect_mounds("xinzha", "2007-03-10", "officer-zhao",
                               [{"place": "新闸村三组", "kind": "new"}, {"place": "新闸村五组", "kind": "new"}])["mounds"]
    app.resolve_mound(march[0], "removed", "2007-03-15", "officer-zhao")
    rebuilt = app.inspect_mounds("xinzha", "2007-06-10", "officer-zhao",
                                 [{"place": "新闸村三组", "kind": "rebuilt", "rebuilt_of": march[0]}])["mounds"][0]
    app.resolve_mound(rebuilt, "moved_to_cemetery", "2007-06-20", "officer-zhao", "北港陵园")
    app.inspect_mounds("xilin", "2007-04-01", "officer-zhao", [])
    marriages = [marry(app, couple(), on) for on in ("2007-02-14", "2007-05-20", "2007-10-01")]
    app.record_unlawful(marriages[1], "concealed_marriage", "2008-03-01", "officer-wu", "一方隐瞒已婚")
    try:
        marry(app, [party("1990-01-01", "M"), party("1980-01-01", "F")], "2007-06-01")
    except Exception:  # noqa: BLE001  (refused, and recorded)
        pass
    xilin_marriage = marry(app, couple(), "2007-08-08", area="xilin")
    app.file_divorce(marriages[0], "2015-04-01", True, True, "officer-wu")
    app.register_divorce(marriages[0], "2015-04-01", True, "officer-wu")
    app.file_divorce(marriages[2], "2021-03-01", True, True, "officer-wu")
    app.withdraw_divorce(marriages[2], "2021-03-10", "officer-wu")
    app.file_divorce(marriages[2], "2021-05-01", True, True, "officer-wu")
    app.register_divorce(marriages[2], "2021-06-01", True, "officer-wu")
    return {"halls": halls, "xinzha": xinzha, "beigang_hall": beigang_hall, "marriages": marriages,
            "xilin_marriage": xilin_marriage, "unresolved": march[1]}

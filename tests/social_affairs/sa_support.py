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

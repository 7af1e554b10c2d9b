"""Helpers of the disaster relief tests: the application on in-memory or real persistence, with a
fixed clock (the last day of 2007, local time), and impact figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eventsourcing.cryptography import AESCipher

LOCAL = timezone(timedelta(hours=8))
NOW = datetime(2007, 12, 31, 12, 0, tzinfo=LOCAL)


def memory_app(now: datetime = NOW):
    from services.disaster_relief.application import DisasterRelief
    return DisasterRelief({"PERSISTENCE_MODULE": "eventsourcing.popo",
                           "CIPHER_KEY": AESCipher.create_key(32)}, now=lambda: now)


def postgres_app(now: datetime = NOW):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.disaster_relief.application import DisasterRelief
    return DisasterRelief(now=lambda: now)


def figures(deaths=0, missing=0, relocated=0, houses_damaged=0, direct_loss="0.00") -> dict:
    return {"deaths": deaths, "missing": missing, "relocated": relocated,
            "houses_damaged": houses_damaged, "direct_loss": direct_loss}


def published(app) -> list[dict]:
    """The notification log as the relay and the feed publish it (CloudEvent dicts)."""
    from shared import contract
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [contract.as_dict(e) for e in contract.to_cloudevents(app, notifications)]


def read_model(cfg, schema: str):
    """A ReadModel fed by the disaster relief source only, in a schema of its own."""
    from eventsourcing.postgres import PostgresDatastore

    from services.disaster_relief import readmodel as dr_projection
    from services.projection.readmodel import ReadModel
    from shared.db import ensure_schema
    ensure_schema(cfg, schema)
    datastore = PostgresDatastore(dbname=cfg.pg_dbname, host=cfg.pg_host, port=cfg.pg_port,
                                  user=cfg.pg_user, password=cfg.pg_password, schema=schema,
                                  pre_ping=True, pool_size=2)
    model = ReadModel(datastore, sources=[dr_projection])
    model.create_table()
    return model


def stored_types(app) -> list[str]:
    """Event types in the notification log, in order."""
    from shared import contract
    return [contract.type_of(app.mapper.to_domain_event(n))
            for n in app.recorder.select_notifications(start=1, limit=100000)]


def drive_story(app) -> dict:
    """A small 2007 in two areas, used by the integration and reporting tests:
    - reserves: Xinzha 21,000 and Xilin 30,000 in January; Beigang 20,000.
    - a hail in Beigang on Monday 14 May, reported on time, below every level; one household,
      given rice and 500 yuan; closed on 31 May.
    - the July flood in Xinzha and Xilin (Friday 6 July, 03:30): initial report late (06:10),
      a follow-up (level II), final on time (level III); three households on the roster;
      Xinzha pays 1,500 + 300 (below the floor: 19,200), Xilin 800; quilts and rice; left open.
    """
    from tests.support import id_number
    for area, amount in (("xinzha", "21000.00"), ("xilin", "30000.00"), ("beigang", "20000.00")):
        app.deposit(area, amount, "区财政 1708 科目", "officer-wang", "2007-01-15")
    hail = app.register_incident("hail", ["beigang"], "2007-05-14T16:20", "officer-li", "冰雹")
    app.report(hail, "initial", figures(houses_damaged=12, direct_loss="180000.00"), "2007-05-14T17:50", "officer-li")
    app.report(hail, "final", figures(houses_damaged=14, direct_loss="210000.00"), "2007-05-16T10:00", "officer-li")
    app.add_to_roster(hail, "BG-0001", id_number("19520101"), "陈明", "beigang", 4, ["house_repair"],
                      "officer-zhou", "2007-05-15")
    app.record_aid(hail, "BG-0001", "rice", 20, "officer-zhou", "2007-05-15")
    app.disburse(hail, "BG-0001", "陈明", "500.00", "officer-wang", "2007-05-16")
    app.close_incident(hail, "officer-li", "2007-05-31")
    flood = app.register_incident("flood", ["xinzha", "xilin"], "2007-07-06T03:30", "officer-li", "暴雨")
    app.report(flood, "initial", figures(relocated=250, direct_loss="800000.00"), "2007-07-06T06:10", "officer-li")
    app.report(flood, "follow_up", figures(deaths=1, relocated=3200, houses_damaged=400,
                                           direct_loss="5200000.00"), "2007-07-07T09:00", "officer-li")
    heads = [id_number("19580312"), id_number("19660705"), id_number("19791120")]
    app.add_to_roster(flood, "XZ-0001", heads[0], "张建国", "xinzha", 3, ["food", "shelter"], "officer-zhou", "2007-07-07")
    app.add_to_roster(flood, "XZ-0002", heads[1], "李秀英", "xinzha", 2, ["food"], "officer-zhou", "2007-07-07")
    app.add_to_roster(flood, "XL-0001", heads[2], "王秀兰", "xilin", 5, ["clothing"], "officer-zhou", "2007-07-07")
    app.record_aid(flood, "XZ-0001", "quilt", 2, "officer-zhou", "2007-07-07")
    app.record_aid(flood, "XL-0001", "rice", 25, "officer-zhou", "2007-07-07")
    app.disburse(flood, "XZ-0001", "张建国", "1500.00", "officer-wang", "2007-07-08")
    app.disburse(flood, "XZ-0002", "李秀英", "300.00", "officer-wang", "2007-07-08")
    app.disburse(flood, "XL-0001", "王秀兰", "800.00", "officer-wang", "2007-07-08")
    app.report(flood, "final", figures(deaths=1, relocated=2800, houses_damaged=380,
                                       direct_loss="4300000.00"), "2007-07-11T10:00", "officer-li")
    return {"hail": hail, "flood": flood, "heads": heads}

"""Helpers of the community-building tests: the application on in-memory or real persistence
with a fixed clock (the last day of 2007), people with valid identity numbers, a small year with
known numbers, and a read model fed by this source only."""
from __future__ import annotations

import itertools
from datetime import date

from eventsourcing.cryptography import AESCipher

from tests.support import id_number

TODAY = date(2007, 12, 31)
SERVICE = "community"
_serial = itertools.count(1)


def memory_app(today: date = TODAY):
    from services.community.application import CommunityBuilding
    return CommunityBuilding({"PERSISTENCE_MODULE": "eventsourcing.popo",
                              "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_app(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.community.application import CommunityBuilding
    return CommunityBuilding(today=lambda: today)


def person(name: str = "陈晓燕", born: str = "1982-03-04") -> dict:
    """A person with a valid GB 11643-1999 number; each call a different one."""
    return {"id_number": id_number(born.replace("-", ""), seq=next(_serial) % 999 + 1),
            "name": name, "birth_date": born}


def hire(app, area: str = "beigang", channel: str = "open_recruitment", on: str = "2007-01-15",
         who: dict | None = None, community: str = "北港社区") -> str:
    who = who or person()
    return app.hire_worker(area, community, who["id_number"], who["name"], who["birth_date"], channel, on)


def published(app) -> list[dict]:
    from shared import contract
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [contract.as_dict(e) for e in contract.to_cloudevents(app, notifications)]


def read_model(cfg, schema: str):
    """A ReadModel fed by the community source only, in a schema of its own."""
    from eventsourcing.postgres import PostgresDatastore

    from services.community import readmodel as cm_projection
    from services.projection.readmodel import ReadModel
    from shared.db import ensure_schema
    ensure_schema(cfg, schema)
    datastore = PostgresDatastore(dbname=cfg.pg_dbname, host=cfg.pg_host, port=cfg.pg_port,
                                  user=cfg.pg_user, password=cfg.pg_password, schema=schema,
                                  pre_ping=True, pool_size=2)
    model = ReadModel(datastore, sources=[cm_projection])
    model.create_table()
    return model


FOUR = ("consultation", "coordination", "hearing", "review")


def drive_story(app) -> dict:
    """A small 2007 with known numbers (projection and reporting tests check them):
    communities: beigang 北港社区 (4 stars 2006, raised to 5 in May: a new five-star) and 陈渡社区
      (3 stars in March: a new three-star), both brand, 北港社区 also digital; xilin 西林社区
      (4 stars in April: a new four-star, digital) and 勤业社区 (3 stars in February, revoked in
      September: counts for nothing); wuxing 五星社区 (5 stars since 2006: not new).
      Net new in 2007: one five-star, one four-star, one three-star.
      Four meetings: 北港社区 and 西林社区 all four, 陈渡社区 three kinds: 2 of 5 communities.
    organisations: beigang a social group (registered 2005) and a private non-enterprise unit
      (2006), both inspected in 2007 (passed, basically passed); xilin a rural association
      (registered 2006, not inspected) and a filed community group; xinzha a community group not
      filed; beigang a social group registered 2007 (not due). Completed 5 of 6; inspected 2 of 3 due.
    villages: xilin 新龙村 (up to standard, municipal model, election in August) and 卜弋村
      (needs rectification, election in May: outside the window); xinzha 新闸村 (up to standard,
      provincial model, election in September); beigang 陈渡村 (election in October).
      Model 2 of 4, elections 3 of 4.
    facilities: the Beigang centre project completed at 2,300 m² (named), the Xilin centre
      project started only (named), 陈渡新苑 office completed at 320 m² (named); centres recorded
      in xinzha (1,500 m², below) and wuxing (2,100 m²); offices 北港社区 280 m² extended to 350
      and 西林社区 250 m². Centres to standard 2 of 7 areas, offices 2 of 3, named projects 2 of 9.
    workers: beigang hired January (trained March) and February (trained July: late); xilin
      hired March (never trained) and August (trained September: after the due date); wuxing
      hired 2006. New first-half hires trained by 2007-06-30: 1 of 3.
    """
    ids: dict = {}
    c = ids["communities"] = {
        "beigang": app.register_community("beigang", "北港社区", "2005-01-01"),
        "chendu": app.register_community("beigang", "陈渡社区", "2005-01-01"),
        "xilin": app.register_community("xilin", "西林社区", "2005-01-01"),
        "qinye": app.register_community("xilin", "勤业社区", "2005-01-01"),
        "wuxing": app.register_community("wuxing", "五星社区", "2005-01-01")}
    app.award_star(c["beigang"], 4, "2006-06-01")
    app.award_star(c["beigang"], 5, "2007-05-01")
    app.award_star(c["chendu"], 3, "2007-03-01")
    app.award_star(c["xilin"], 4, "2007-04-01")
    app.award_star(c["qinye"], 3, "2007-02-01")
    app.revoke_star(c["qinye"], "2007-09-01", "跟踪考核不达标")
    app.award_star(c["wuxing"], 5, "2006-05-01")
    app.designate_community(c["beigang"], "brand", "2007-06-01", "服务型社区")
    app.designate_community(c["chendu"], "brand", "2007-07-01", "生态型社区")
    app.designate_community(c["beigang"], "digital", "2007-08-01", "数字型社区")
    app.designate_community(c["xilin"], "digital", "2007-08-02", "数字型社区")
    for index, kind in enumerate(FOUR):
        app.hold_meeting(c["beigang"], kind, f"2007-0{index + 2}-10", "社区议事", 40)
        app.hold_meeting(c["xilin"], kind, f"2007-0{index + 3}-12", "社区议事", 30)
        if kind != "review":
            app.hold_meeting(c["chendu"], kind, f"2007-0{index + 4}-15", "社区议事", 25)
    app.hold_meeting(c["wuxing"], "review", "2006-11-01", "年度评议", 60)
    o = ids["organisations"] = {
        "sg": app.identify_organisation("beigang", "北港老年协会", "social_group", "2005-03-01"),
        "pne": app.identify_organisation("beigang", "北港阳光幼儿园", "private_non_enterprise", "2006-01-05"),
        "rural": app.identify_organisation("xilin", "西林蔬菜协会", "rural_association", "2006-03-01"),
        "cg": app.identify_organisation("xilin", "西林舞蹈队", "community_group", "2007-02-01"),
        "cg2": app.identify_organisation("xinzha", "新闸书画社", "community_group", "2007-04-01"),
        "new": app.identify_organisation("beigang", "北港志愿者协会", "social_group", "2007-01-10")}
    app.register_organisation(o["sg"], "2005-04-01", "苏常社证字第001号")
    app.register_organisation(o["pne"], "2006-02-01", "苏常民证字第002号")
    app.register_organisation(o["rural"], "2006-04-01", "苏常社证字第003号")
    app.file_organisation(o["cg"], "2007-03-01")
    app.register_organisation(o["new"], "2007-02-10", "苏常社证字第004号")
    app.inspect_organisation(o["sg"], "2007-05-10", "passed")
    app.inspect_organisation(o["pne"], "2007-05-11", "basically_passed")
    v = ids["villages"] = {
        "xinlong": app.register_village("xilin", "新龙村", "2006-01-01"),
        "buyi": app.register_village("xilin", "卜弋村", "2006-01-01"),
        "xinzha": app.register_village("xinzha", "新闸村", "2006-01-01"),
        "chendu": app.register_village("beigang", "陈渡村", "2006-01-01")}
    app.inspect_openness(v["xinlong"], "2007-03-01", "up_to_standard", "公开栏规范")
    app.inspect_openness(v["buyi"], "2007-03-02", "needs_rectification", "财务公开不及时")
    app.inspect_openness(v["xinzha"], "2007-04-01", "up_to_standard", "公开内容完整")
    app.award_model_village(v["xinlong"], "municipal", "2007-06-01", "常州市民政局")
    app.award_model_village(v["xinzha"], "provincial", "2007-07-01", "江苏省民政厅")
    app.record_election(v["xinlong"], "2007-08-15")
    app.record_election(v["buyi"], "2007-05-20")
    app.record_election(v["xinzha"], "2007-09-09")
    app.record_election(v["chendu"], "2007-10-10")
    p = ids["projects"] = {
        "beigang": app.plan_project("beigang", "service_centre", "北港街道社区服务中心", 2200, "2007-01-10", "2007-12-31"),
        "xilin": app.plan_project("xilin", "service_centre", "西林街道社区服务中心", 2100, "2007-01-10", "2007-12-31"),
        "chendu": app.plan_project("beigang", "committee_office", "陈渡新苑", 320, "2007-01-10", "2007-12-31")}
    app.start_project(p["beigang"], "2007-02-01")
    app.start_project(p["xilin"], "2007-03-01")
    app.start_project(p["chendu"], "2007-03-01")
    ids["beigang_centre"] = app.complete_project(p["beigang"], "2007-10-01", 2300)["facility_id"]
    app.complete_project(p["chendu"], "2007-09-01", 320)
    f = ids["facilities"] = {
        "xinzha": app.record_facility("xinzha", "service_centre", "新闸镇社区服务中心", 1500, "2007-01-05"),
        "wuxing": app.record_facility("wuxing", "service_centre", "五星街道社区服务中心", 2100, "2007-01-05"),
        "beigang_office": app.record_facility("beigang", "committee_office", "北港社区", 280, "2007-01-05"),
        "xilin_office": app.record_facility("xilin", "committee_office", "西林社区", 250, "2007-01-05")}
    app.change_floor_area(f["beigang_office"], 350, "2007-11-01", "扩建")
    w = ids["workers"] = {
        "jan": hire(app, "beigang", "open_recruitment", "2007-01-15"),
        "feb": hire(app, "beigang", "graduate", "2007-02-01"),
        "mar": hire(app, "xilin", "secondment", "2007-03-01", community="西林社区"),
        "aug": hire(app, "xilin", "graduate", "2007-08-01", community="西林社区"),
        "old": hire(app, "wuxing", "open_recruitment", "2006-06-01", community="五星社区")}
    app.train_worker(w["jan"], "2007-03-10", "新上岗社区专职工作者培训")
    app.train_worker(w["feb"], "2007-07-05", "新上岗社区专职工作者培训")
    app.train_worker(w["aug"], "2007-09-01", "新上岗社区专职工作者培训")
    app.train_worker(w["old"], "2006-07-01", "社区工作实务")
    return ids

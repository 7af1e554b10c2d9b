"""End-to-end tier: `python -m deploy.demo` twice at a small size on the same platform and
database: both runs have every command's expected outcome, and the second builds on the first."""
from __future__ import annotations

import io


from deploy import demo
from shared.rpc import cluster


def test_the_demo_twice_on_one_database_builds_on_the_first_run(platform, amqp_uri):
    for port in ("SOCIAL_ASSISTANCE_PORT", "DISASTER_RELIEF_PORT", "WELFARE_PORT"):
        platform.wait_until(lambda: platform.get(port, "/healthz"), what=port)
    args = ["--size", "small", "--no-progress", "--no-report", "--concurrency", "12", "--amqp-uri", amqp_uri,
            "--domains", "social_assistance,disaster_relief"]
    counts = []
    for expected_run in (1, 2):
        out = io.StringIO()
        assert demo.main(args, out=out, err=io.StringIO()) == 0, out.getvalue()
        text = out.getvalue()
        assert f"demo: run {expected_run} on this database" in text
        assert "every command had its expected outcome" in text
        with cluster(amqp_uri, timeout=60) as rpc:
            # an idempotent payment run (pays nobody twice) tells the active caseload
            counts.append((rpc.social_assistance.run_payments("2007-12")["active_cases"],
                           len(rpc.disaster_relief.list_incidents(2007))))
    assert "already done by an earlier run" in text       # the raise and the merge, in run 2
    (cases_1, incidents_1), (cases_2, incidents_2) = counts
    assert cases_2 > cases_1 > 0
    assert (incidents_1, incidents_2) == (3, 6)

"""The benchmark harness's pure parts: statistics, targets, the ratio table, soak verdicts,
profile summaries, identity numbers of the workload. No infrastructure, no timed assertions."""
from __future__ import annotations

import statistics

import pytest

from bench import report
from bench.baselines import parse_pgbench_tps
from bench.probes import parse_metrics
from bench.workload import Households, id_number


# --- percentiles and slopes -------------------------------------------------------------------------

def test_percentile_interpolates_like_the_inclusive_method():
    values = [15, 20, 35, 40, 50]
    assert report.percentile(values, 0) == 15
    assert report.percentile(values, 100) == 50
    assert report.percentile(values, 50) == 35
    assert report.percentile(values, 40) == pytest.approx(29.0)  # rank 1.6 between 20 and 35
    cuts = statistics.quantiles(range(1, 101), n=100, method="inclusive")
    assert report.percentile(range(1, 101), 99) == pytest.approx(cuts[98])
    assert report.percentile(range(1, 101), 95) == pytest.approx(cuts[94])


def test_percentile_of_unsorted_and_degenerate_samples():
    assert report.percentile([3, 1, 2], 50) == 2
    assert report.percentile([7], 99) == 7
    assert report.percentile([], 50) is None
    with pytest.raises(ValueError):
        report.percentile([1, 2], 101)


def test_summary_scales_seconds_to_milliseconds():
    s = report.summary([0.010, 0.020, 0.030], 1000)
    assert s["count"] == 3
    assert s["p50"] == pytest.approx(20.0)
    assert s["min"] == pytest.approx(10.0) and s["max"] == pytest.approx(30.0)
    assert s["mean"] == pytest.approx(20.0)
    assert report.summary([]) == {"count": 0}


def test_slope_is_the_least_squares_fit():
    assert report.slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert report.slope([(0, 5), (10, 5), (20, 5)]) == pytest.approx(0.0)
    assert report.slope([(0, 1)]) is None
    assert report.slope([(3, 1), (3, 2)]) is None


def test_first_time_reaching_a_position():
    times, positions = [1.0, 2.0, 3.0], [10, 20, 30]
    assert report.first_time_reaching(times, positions, 5) == 1.0
    assert report.first_time_reaching(times, positions, 20) == 2.0
    assert report.first_time_reaching(times, positions, 21) == 3.0
    assert report.first_time_reaching(times, positions, 31) is None


# --- targets and the ratio table ----------------------------------------------------------------------

FIGURES = {"relay_eps": 7000.0, "pika_batched_confirm_mps": 9000.0,
           "projection_eps": 1500.0, "projection_runner_eps": 400.0,
           "commands_ps_best": 120.0, "rpc_ceiling_cps": 400.0,
           "payments": {"cases": 20000, "eps": 8000.0, "year_end_eps": 6000.0}, "es_save_batched_eps": 15000.0,
           "latency_ms": {"p99": 28.0}, "rss_mb": {"relay": 46.0, "service": 101.0}}


def rows_by_label():
    targets = report.TARGETS + report.rss_targets(sorted(FIGURES["rss_mb"]))
    return {row.label: row for row in (report.evaluate(t, FIGURES) for t in targets)}


def test_ratio_targets_compare_platform_with_baseline():
    rows = rows_by_label()
    assert rows["relay events/s"].ratio == pytest.approx(7000 / 9000)
    assert rows["relay events/s"].verdict == "met"                    # 78 % >= 70 %
    assert rows["projection events/s (a worker per source)"].verdict == "MISSED"   # 3.75 x < 4 x
    assert rows["commands/s (best concurrency) vs the RPC ceiling"].ratio == pytest.approx(0.30)
    assert rows["commands/s (best concurrency) vs the RPC ceiling"].verdict == "MISSED"  # 30 % < 60 %
    assert rows["payment run events/s (monthly) (20000)"].verdict == "met"             # 53 % >= 50 %
    assert rows["payment run events/s (year-end extra month) (20000)"].verdict == "MISSED"  # 40 %


def test_absolute_targets():
    rows = rows_by_label()
    assert rows["projection events/s (absolute)"].verdict == "MISSED"  # 1,500 < 2,000
    assert rows["p99 command -> read model at 100/s"].verdict == "met"  # 28 < 30
    assert rows["peak RSS relay"].verdict == "met"
    assert rows["peak RSS service"].verdict == "MISSED"                 # 101 > 100


def test_missing_figures_are_not_applicable():
    row = report.evaluate(report.TARGETS[0], {"relay_eps": 100.0})
    assert row.verdict == "n/a" and row.ratio is None
    assert report.evaluate(report.TARGETS[4], {}).verdict == "n/a"


def test_below_target_is_strict():
    target = report.Target("p99", "p99", "below", 250, unit="ms")
    assert report.evaluate(target, {"p99": 250.0}).verdict == "MISSED"
    assert report.evaluate(target, {"p99": 249.9}).verdict == "met"


def test_table_lines_up_every_row():
    rows = [report.evaluate(t, FIGURES, {"pika_batched_confirm_mps": "pika batched confirms"})
            for t in report.TARGETS]
    text = report.table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["figure", "platform", "baseline"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(report.TARGETS)
    relay = next(line for line in lines if line.startswith("relay events/s"))
    assert "7,000" in relay and "9,000" in relay and "78%" in relay and relay.endswith("met")
    column = lines[0].index("verdict")
    assert all(line[column:].split()[0] in ("met", "MISSED", "n/a") for line in lines[2:])


def test_formatting_of_figures():
    assert report.fmt(None) == "-"
    assert report.fmt(12345.6) == "12,346"
    assert report.fmt(45.67) == "45.7"
    assert report.fmt(3.14159) == "3.14"
    assert report.fmt_ratio(0.7) == "70%"
    assert report.fmt_ratio(None) == "-"
    assert report.TARGETS[0].describe() == ">= 70% of baseline"
    assert report.TARGETS[4].describe() == "< 30.0 ms"
    assert report.TARGETS[1].describe() == ">= 400% of baseline"


def test_lookup_follows_dotted_keys():
    assert report.lookup({"a": {"b": 2}}, "a.b") == 2
    assert report.lookup({"a": {"b": 2}}, "a.c") is None
    assert report.lookup({"a": 1}, None) is None


# --- soak verdicts -------------------------------------------------------------------------------------

def test_flat_memory_passes_and_a_leak_does_not():
    flat = [(t, 70.0 + (0.5 if t % 20 else 0.0)) for t in range(0, 600, 10)]
    leak = [(t, 70.0 + t * 0.05) for t in range(0, 600, 10)]            # 3 MB/min
    assert report.flatness("rss", flat, 5.0).flat is True
    leaking = report.flatness("rss", leak, 5.0)
    assert leaking.flat is False
    assert leaking.slope_per_min == pytest.approx(3.0)
    assert leaking.growth == pytest.approx(0.05 * (590 - 120), rel=0.05)  # warm-up (20 %) left out


def test_flatness_ignores_the_warm_up_and_missing_values():
    warm = [(0, 40.0), (10, 60.0), (20, 70.0)] + [(t, 70.0) for t in range(30, 300, 10)]
    assert report.flatness("rss", warm, 1.0).flat is True
    assert report.flatness("rss", [(0, None)], 1.0).flat is None


# --- profiles, parsers, workload ----------------------------------------------------------------------------

def test_profile_summary_counts_inclusive_and_self_samples():
    collapsed = ("main (a.py:1);publish (relay.py:10);write (t.py:5) 6\n"
                 "main (a.py:1);publish (relay.py:12);encode (c.py:3) 3\n"
                 "main (a.py:2) 1\n")
    summary = report.profile_summary(collapsed)
    assert summary["samples"] == 10
    inclusive = {name: share for name, _n, share in summary["inclusive"]}
    own = {name: share for name, _n, share in summary["self"]}
    assert inclusive["main (a.py)"] == pytest.approx(1.0)
    assert inclusive["publish (relay.py)"] == pytest.approx(0.9)   # two lines of one function
    assert own["write (t.py)"] == pytest.approx(0.6)
    assert "top inclusive" in report.format_profile(summary, "relay")


def test_pgbench_tps_is_read_from_its_report():
    output = ("number of transactions actually processed: 23761\n"
              "latency average = 1.262 ms\n"
              "initial connection time = 7.103 ms\n"
              "tps = 1584.271908 (without initial connection time)\n")
    assert parse_pgbench_tps(output) == pytest.approx(1584.271908)
    assert parse_pgbench_tps("no figures") is None


def test_prometheus_text_is_parsed_with_and_without_labels():
    text = ('# HELP relay_published_position x\n'
            'relay_published_position{service="social_assistance"} 42.0\n'
            'relay_published_position{service="other"} 8.0\n'
            'process_resident_memory_bytes 1.5e+07\n')
    values = parse_metrics(text)
    assert values['relay_published_position{service="social_assistance"}'] == 42.0
    assert values["relay_published_position"] == 50.0
    assert values["process_resident_memory_bytes"] == 1.5e7


def test_workload_identity_numbers_are_valid_and_never_repeat():
    from shared import identity
    numbers = [id_number(k) for k in (0, 1, 999, 1000, 123_456, 2 * 9_999_999 + 1)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert identity.validate(number) == number
    households = Households(0)
    members = [m["id_number"] for _ in range(50) for m in households.next()[2]]
    assert len(set(members)) == 100


# --- the eventsourcing save-loop baseline's stores ----------------------------------------------------

def test_plain_save_baseline_has_no_cipher_even_with_a_cipher_key(monkeypatch):
    """With CIPHER_KEY set and CIPHER_TOPIC left out, eventsourcing falls back to the pycryptodome
    cipher (not installed): the plain store must drop the key as well, and measure no codec."""
    from eventsourcing.cryptography import AESCipher

    from bench.baselines import bench_store_classes
    key = AESCipher.create_key(32)
    monkeypatch.setenv("CIPHER_KEY", key)
    monkeypatch.setenv("BENCH_ES_PLAIN_CIPHER_KEY", key)  # the name-prefixed form too
    popo = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    platform_class, plain_class = bench_store_classes()
    platform, plain = platform_class(popo), plain_class(popo)
    assert type(platform.mapper.cipher) is AESCipher          # the platform's AES-GCM (cryptography)
    assert platform.mapper.compressor is not None
    assert plain.mapper.cipher is None and plain.mapper.compressor is None
    platform.close()
    plain.close()

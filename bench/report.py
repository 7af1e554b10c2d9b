"""The harness's pure parts: percentiles, slopes, targets, the ratio table, soak verdicts.

No I/O and no clock here, so `tests/bench/` can check them without infrastructure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# --- statistics ----------------------------------------------------------------------------------


def percentile(values, p: float) -> float | None:
    """The p-th percentile (0..100) with linear interpolation between closest ranks (the
    'linear' method of numpy and of Python's statistics.quantiles(method='inclusive'))."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values, unit_scale: float = 1.0) -> dict:
    """count, min, p50, p95, p99, max and mean of a sample (each multiplied by unit_scale)."""
    values = list(values)
    if not values:
        return {"count": 0}
    scaled = [v * unit_scale for v in values]
    return {"count": len(scaled), "min": min(scaled), "p50": percentile(scaled, 50),
            "p95": percentile(scaled, 95), "p99": percentile(scaled, 99), "max": max(scaled),
            "mean": sum(scaled) / len(scaled)}


def slope(points) -> float | None:
    """Least-squares slope of (x, y) points; None with fewer than two distinct x."""
    points = list(points)
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


# --- targets of issue 3 --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One target: `platform` figure compared with `threshold`, either directly
    (kind 'min': figure >= threshold, 'max': figure <= threshold, 'below': figure < threshold)
    or as a ratio to `baseline` (kind 'ratio': figure / baseline >= threshold)."""
    label: str
    platform: str
    kind: str
    threshold: float
    baseline: str | None = None
    unit: str = ""
    detail: str | None = None      # a figure (text) naming what the value is of, added to the label

    def describe(self) -> str:
        if self.kind == "ratio":
            return f">= {self.threshold:.0%} of baseline"
        sign = {"min": ">=", "max": "<=", "below": "<"}[self.kind]
        return f"{sign} {fmt(self.threshold)} {self.unit}".rstrip()


def rss_targets(processes) -> list[Target]:
    return [Target(f"peak RSS {name}", f"rss_mb.{name}", "max", 100, unit="MB") for name in processes]


# The targets of issue 14 (issue 3's, tightened), each against a baseline of the same run.
TARGETS = [
    Target("relay events/s", "relay_eps", "ratio", 0.70, "pika_batched_confirm_mps", "events/s"),
    Target("projection events/s (a worker per source)", "projection_eps", "ratio", 4.0,
           "projection_runner_eps", "events/s"),
    Target("projection events/s (absolute)", "projection_eps", "min", 2000, unit="events/s"),
    Target("commands/s (best concurrency) vs the RPC ceiling", "commands_ps_best", "ratio", 0.60,
           "rpc_ceiling_cps", "commands/s"),
    Target("p99 command -> read model at 100/s", "latency_ms.p99", "below", 30, unit="ms"),
    Target("payment run events/s (monthly)", "payments.eps", "ratio", 0.50, "es_save_batched_eps",
           "events/s", detail="payments.cases"),
    Target("payment run events/s (year-end extra month)", "payments.year_end_eps", "ratio", 0.50,
           "es_save_batched_eps", "events/s", detail="payments.cases"),
    Target("payment run events/s (December, after half a year of runs)", "payments.later_eps", "ratio", 0.50,
           "es_save_batched_eps", "events/s", detail="payments.cases"),
    # issue 9: the HTTP gateway beside the same commands over RPC, measured in the same run
    Target("gateway commands/s (HTTP vs RPC)", "gateway.http_commands_ps", "ratio", 0.80,
           "gateway.rpc_commands_ps", "commands/s"),
    Target("gateway p99 at 50 commands/s", "gateway.http_at_rate_ms.p99", "below", 50, unit="ms"),
    # issue 10: the delivery engine of the subscriptions (bench/subscriptions.py)
    Target("webhook deliveries/s to one receiver", "subscriptions.deliveries_ps", "min", 1000, unit="/s"),
    Target("replay to a new subscriber events/s", "subscriptions.replay_eps", "min", 5000, unit="events/s",
           detail="subscriptions.replay_mode"),
    Target("p99 delivery lag, nine of ten (one stalled)", "subscriptions.lag_ms.p99", "below", 1000, unit="ms"),
]


@dataclass
class Row:
    label: str
    platform: float | None
    baseline_label: str = ""
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    verdict: str = ""
    extra: dict = field(default_factory=dict)


def lookup(figures: dict, key: str | None):
    """figures['a']['b'] for key 'a.b'; None when any part is missing."""
    if key is None:
        return None
    value = figures
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def evaluate(target: Target, figures: dict, baseline_labels: dict | None = None) -> Row:
    """Compare one target with the figures of a run; verdict is met / MISSED / n/a."""
    value = lookup(figures, target.platform)
    base = lookup(figures, target.baseline)
    detail = lookup(figures, target.detail)
    row = Row(f"{target.label} ({detail})" if detail else target.label, value, (baseline_labels or {}).get(target.baseline, target.baseline or ""),
              base, target=target.describe())
    if target.kind == "ratio":
        row.ratio = value / base if value is not None and base else None
        met = None if row.ratio is None else row.ratio >= target.threshold
    elif value is None:
        met = None
    else:
        met = {"min": value >= target.threshold, "max": value <= target.threshold,
               "below": value < target.threshold}[target.kind]
    row.verdict = "n/a" if met is None else ("met" if met else "MISSED")
    return row


def fmt(value, digits: int | None = None) -> str:
    """Human figures: thousands separators, fewer decimals for bigger numbers."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if digits is None:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def table(rows: list[Row]) -> str:
    """A plain-text table: figure, platform, baseline, ratio, target, verdict."""
    header = ("figure", "platform", "baseline", "", "ratio", "target", "verdict")
    lines = [(r.label, fmt(r.platform), r.baseline_label or "", fmt(r.baseline) if r.baseline_label else "",
              fmt_ratio(r.ratio), r.target, r.verdict) for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    align = ["<", ">", "<", ">", ">", "<", "<"]

    def render(cells):
        return "  ".join(f"{str(c):{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


# --- soak verdicts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flatness:
    """Whether a sampled series stayed flat: the least-squares growth over the judged window
    (the samples after `warmup_fraction` of the run) is within `tolerance`."""
    name: str
    growth: float | None      # slope x window length, in the series' unit
    slope_per_min: float | None
    tolerance: float
    first: float | None
    last: float | None
    peak: float | None

    @property
    def flat(self) -> bool | None:
        return None if self.growth is None else self.growth <= self.tolerance


def flatness(name: str, samples: list[tuple[float, float]], tolerance: float,
             warmup_fraction: float = 0.2) -> Flatness:
    """samples: (seconds since start, value). The warm-up (first imports, pools, caches) is
    left out of the fit; what remains must not grow by more than `tolerance` over its span."""
    samples = [(t, v) for t, v in samples if v is not None]
    if not samples:
        return Flatness(name, None, None, tolerance, None, None, None)
    start = samples[0][0] + (samples[-1][0] - samples[0][0]) * warmup_fraction
    judged = [(t, v) for t, v in samples if t >= start]
    s = slope(judged)
    span = judged[-1][0] - judged[0][0] if judged else 0
    growth = None if s is None else s * span
    return Flatness(name, growth, None if s is None else s * 60, tolerance,
                    samples[0][1], samples[-1][1], max(v for _, v in samples))


def first_time_reaching(times: list[float], positions: list[int], target: int) -> float | None:
    """The first time at which a non-decreasing position series reached `target`."""
    import bisect
    index = bisect.bisect_left(positions, target)
    return times[index] if index < len(times) else None


# --- profiles ---------------------------------------------------------------------------------------


def _function(frame: str) -> str:
    """'encode (shared/contract.py:110)' -> 'encode (shared/contract.py)': one name per function."""
    import re
    return re.sub(r":\d+\)$", ")", frame.strip())


def profile_summary(collapsed: str, top: int = 15, only: str | None = None) -> dict:
    """Summarise py-spy's raw (collapsed) output, one 'frame;frame;...;leaf count' per line:
    the functions with the most samples on the stack (inclusive) and at the top of it (self).
    `only`: keep the stacks with a frame containing this text (e.g. '_run_module_as_main' for
    a plain process's main thread, leaving out pool and metrics threads)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or (only is not None and only not in stack):
            continue
        n = int(count)
        total += n
        frames = [_function(f) for f in stack.split(";") if f]
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n

    def ranked(counts):
        return [(name, n, n / total) for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]
    return {"samples": total, "inclusive": ranked(inclusive) if total else [],
            "self": ranked(own) if total else []}


def format_profile(summary_: dict, title: str) -> str:
    lines = [f"{title}: {summary_['samples']} samples"]
    for kind in ("inclusive", "self"):
        lines.append(f"  top {kind}:")
        lines.extend(f"    {share:6.1%}  {name}" for name, _n, share in summary_[kind])
    return "\n".join(lines)

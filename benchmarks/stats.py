"""Medians and percentiles, and how to print them."""

import statistics


def percentile(values, p):
    """The ``p``-th percentile (0-100) by nearest rank; ``None`` for no values."""
    values = sorted(values)
    if not values:
        return None
    rank = max(1, round(p / 100 * len(values) + 0.5 - 1e-9))
    return values[min(rank, len(values)) - 1]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(value, baseline):
    return value / baseline if value is not None and baseline else None


def fmt(value, unit=""):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()

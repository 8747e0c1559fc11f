"""Figures: every compared figure is reported as project, baseline, ratio and target."""

from __future__ import annotations

import sys
import traceback
from typing import Any

Figures = dict[str, Any]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def ratio(project: float | None, baseline: float | None) -> float | None:
    """project / baseline; None when either is missing or the baseline is zero."""
    if project is None or baseline is None or baseline == 0:
        return None
    return round(project / baseline, 3)


def compare(
    figures: Figures,
    key: str,
    project: float | None,
    baseline: float | None,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    digits: int = 3,
    names: tuple[str, str] = ("project", "baseline"),
) -> float | None:
    """Add ``<key>_project``, ``<key>_baseline``, ``<key>_ratio`` and, when the ratio has a
    target (``at_least`` or ``at_most``), ``<key>_target`` and ``<key>_target_met``.
    ``names`` renames the two sides' keys (``("on", "off")``: the project with its server
    tuning and without)."""
    value = ratio(project, baseline)
    figures[f"{key}_{names[0]}"] = rounded(project, digits)
    figures[f"{key}_{names[1]}"] = rounded(baseline, digits)
    figures[f"{key}_ratio"] = value
    if at_least is not None:
        figures[f"{key}_target"] = f"ratio >= {at_least}"
        figures[f"{key}_target_met"] = value is not None and value >= at_least
    elif at_most is not None:
        figures[f"{key}_target"] = f"ratio <= {at_most}"
        figures[f"{key}_target_met"] = value is not None and value <= at_most
    return value


def compare_latency(
    figures: Figures,
    prefix: str,
    project: Any | None,
    baseline: Any | None,
    *,
    p99_at_most: float | None = None,
    names: tuple[str, str] = ("project", "baseline"),
) -> None:
    """``<prefix>_p50_ms`` and ``<prefix>_p99_ms`` (the latter with its target) from two
    load.Latency records (None when a side did not run)."""
    for pct, at_most in ((50, None), (99, p99_at_most)):
        compare(
            figures,
            f"{prefix}_p{pct}_ms",
            project.ms(pct) if project else None,
            baseline.ms(pct) if baseline else None,
            at_most=at_most,
            names=names,
        )


def target(figures: Figures, key: str, met: bool | None, description: str) -> None:
    """A target that is not a ratio (zero loss, one publish per broadcast, ...)."""
    figures[f"{key}_target"] = description
    figures[f"{key}_target_met"] = met


def failed(figures: Figures, key: str, exc: BaseException) -> None:
    """Record a failed half as a figure (the run goes on) and print its traceback."""
    figures[key] = short_error(exc)
    print(f"   ({key}: traceback follows)", file=sys.stderr, flush=True)
    traceback.print_exception(exc, file=sys.stderr)


def short_error(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " | ")
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""The HTML report's charts, drawn by matplotlib as inline SVG.

One chart per continuous vital (HR, SpO₂, RR, EtCO₂) and one per group of
spot values (blood pressure, temperature), all on the same clock-time axis:
the session's phases as shaded bands, the values, the alarm limits in force
(a limit relative to the baseline from the infusion's start, when the
baseline was fixed), and a marker where each of the chart's alarms was
raised, at its onset value.

Figures are built with :class:`matplotlib.figure.Figure`, never pyplot, so no
display or global figure state is involved; rendering is serialised because
matplotlib's font cache is shared between threads.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from monitor.domain.review import Series
from monitor.domain.vitals import CONTINUOUS_FRESH_S, Vital, charts

MINUTE_MS: Final = 60_000
"""The time axis is in minutes since 1970-01-01 UTC, so ticks fall on whole clock minutes."""
TICK_STEPS_MIN: Final = (1, 2, 5, 10, 15, 20, 30, 60, 120, 240)
MAX_TICKS: Final = 12
GAP_MS: Final = round(CONTINUOUS_FRESH_S * 1000)
"""A continuous trace is broken where no value came for this long."""
PHASES: Final[Mapping[str, str]] = {
    "baseline": "#eceef1", "infusion": "#fdf0c4", "observation": "#dce9fb"}
"""Each phase's band colour: light enough to print, distinct in grey."""
PRIORITY_COLOUR: Final[Mapping[str, str]] = {
    "high": "#b91c1c", "medium": "#b45309", "low": "#0e7490"}
SYMBOL: Final[Mapping[str, str]] = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}
LineStyle = Literal["-", "--", ":"]
PRIORITY_STYLE: Final[Mapping[str, LineStyle]] = {"high": "-", "medium": "--", "low": ":"}
LABEL_SPACING: Final = 0.045
"""Limit labels closer than this (fraction of the axis height) to the last one are left out."""
_RENDERING = threading.Lock()


@dataclass(frozen=True, slots=True)
class Panel:
    """One chart of the report: its caption and the vitals drawn in it."""

    caption: str
    vitals: tuple[Vital, ...]

    @property
    def axis_label(self) -> str:
        """The y-axis label: the vitals and their unit."""
        units = {v.unit for v in self.vitals}
        names = ", ".join(v.label for v in self.vitals)
        return f"{names} ({units.pop()})" if len(units) == 1 else names


@dataclass(frozen=True, slots=True)
class Frame:
    """What every chart of one report shares: the time span, the phases, limits and alarms.

    Attributes:
        phases: (phase, start ms, end ms) of each phase drawn as a band.
        relative_from_ms: When limits relative to the baseline came into force.
    """

    start_ms: int
    end_ms: int
    phases: tuple[tuple[str, int, int], ...]
    relative_from_ms: int | None
    limits: Sequence[Mapping[str, Any]]
    alarms: Sequence[Mapping[str, Any]]


def panels() -> list[Panel]:
    """The report's charts: continuous vitals one a chart, spot values by the registry's chart."""
    out = []
    for chart, vitals in charts():
        if all(v.continuous for v in vitals):
            out += [Panel(v.label, (v,)) for v in vitals]
        else:
            out.append(Panel(chart.title, vitals))
    return out


def frame_of(phase_started_ms: Mapping[str, int], data: Mapping[str, Series],
             limits: Sequence[Mapping[str, Any]], alarms: Sequence[Mapping[str, Any]]) -> Frame:
    """The span from the session's first phase (or first value) to its end (or last value)."""
    times = [int(s.t_ms[0]) for s in data.values()] + [int(s.t_ms[-1]) for s in data.values()]
    started = sorted(phase_started_ms.values())
    start = min([*started[:1], *times]) if started or times else 0
    end = max([phase_started_ms.get("ended", start), *times])
    end = max(end, start + 60_000)
    bands = []
    order = [p for p in ("baseline", "infusion", "observation", "ended") if p in phase_started_ms]
    for phase, following in zip(order, [*order[1:], None], strict=True):
        if phase in PHASES:
            until = end if following is None else phase_started_ms[following]
            bands.append((phase, phase_started_ms[phase], until))
    return Frame(start, end, tuple(bands), phase_started_ms.get("infusion"), limits, alarms)


def _x(t_ms: Any) -> Any:  # noqa: ANN401 - an int or a numpy array of ms
    return np.asarray(t_ms, dtype=np.float64) / MINUTE_MS


def _clock(minutes: float, _: int | None = None) -> str:
    return datetime.fromtimestamp(minutes * 60, UTC).strftime("%H:%M")


def _tick_step(frame: Frame) -> int:
    """Minutes between time ticks: the smallest usual step giving at most ``MAX_TICKS``."""
    span = (frame.end_ms - frame.start_ms) / MINUTE_MS
    return next((step for step in TICK_STEPS_MIN if span / step <= MAX_TICKS),
                TICK_STEPS_MIN[-1])


def _with_gaps(series: Series) -> tuple[Any, Any]:
    """Times and values with a NaN wherever values stopped for longer than ``GAP_MS``."""
    breaks = np.nonzero(np.diff(series.t_ms) > GAP_MS)[0] + 1
    return (np.insert(_x(series.t_ms), breaks, np.nan),
            np.insert(series.values, breaks, np.nan))


def _y_range(panel: Panel, data: Mapping[str, Series],
             limits: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """The values, and the limits within the vitals' usual chart range, with a margin."""
    usual_low = min(v.chart_range[0] for v in panel.vitals)
    usual_high = max(v.chart_range[1] for v in panel.vitals)
    shown = [float(row["limit"]) for row in limits if usual_low <= row["limit"] <= usual_high]
    for vital in panel.vitals:
        if vital.name in data:
            shown += [float(data[vital.name].values.min()), float(data[vital.name].values.max())]
    if not shown:
        return usual_low, usual_high
    low, high = min(shown), max(shown)
    margin = max((high - low) * 0.08, 2.0)
    return low - margin, high + margin


def _draw_limits(ax: Axes, panel: Panel, frame: Frame,
                 limits: Sequence[Mapping[str, Any]], y_range: tuple[float, float]) -> None:
    low, high = y_range
    labelled: list[float] = []
    by_name = {v.name: v for v in panel.vitals}
    for row in sorted(limits, key=lambda r: -float(r["limit"])):
        value = float(row["limit"])
        if not low <= value <= high:
            continue
        start = frame.start_ms
        if row.get("relative"):
            if frame.relative_from_ms is None:
                continue
            start = frame.relative_from_ms
        colour = PRIORITY_COLOUR.get(row["priority"], "#374151")
        ax.hlines(value, _x(start), _x(frame.end_ms), colors=colour, linewidth=0.7,
                  linestyles=PRIORITY_STYLE.get(row["priority"], "-"), zorder=2)
        position = (value - low) / (high - low)
        if all(abs(position - other) >= LABEL_SPACING for other in labelled):
            labelled.append(position)
            name = by_name[row["vital"]].label if len(by_name) > 1 else ""
            when = SYMBOL.get(row["when"], row["when"])
            ax.annotate(f"{name} {when}{value:g}".strip(), xy=(1, value),
                        xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=6, color=colour)


def _draw_alarms(ax: Axes, panel: Panel, frame: Frame, y_range: tuple[float, float]) -> bool:
    low, high = y_range
    names = {v.name for v in panel.vitals}
    drawn = False
    for alarm in frame.alarms:
        if alarm.get("vital") not in names:
            continue
        value = next((float(alarm[k]) for k in ("onset_value", "value", "limit")
                      if alarm.get(k) is not None), high)
        ax.plot(_x(alarm["raised_ms"]), min(max(value, low), high),
                marker="v" if str(alarm["code"]).endswith("_low") else "^", markersize=5,
                color=PRIORITY_COLOUR.get(alarm["priority"], "#374151"),
                markeredgecolor="black", markeredgewidth=0.4, zorder=4, clip_on=False)
        drawn = True
    return drawn


def _legend(panel: Panel, frame: Frame, limits: Sequence[Mapping[str, Any]],
            alarms: bool) -> list[Artist]:
    handles: list[Artist] = [Patch(color=PHASES[p], label=p) for p, _, _ in frame.phases]
    if len(panel.vitals) > 1:
        handles += [Line2D([], [], color=v.colour, marker="o", markersize=3, label=v.label)
                    for v in panel.vitals]
    for priority in PRIORITY_COLOUR:
        if any(row["priority"] == priority for row in limits):
            handles.append(Line2D([], [], color=PRIORITY_COLOUR[priority], linewidth=0.8,
                                  linestyle=PRIORITY_STYLE[priority], label=f"{priority} limit"))
    if alarms:
        handles.append(Line2D([], [], linestyle="none", marker="^", color="#6b7280",
                              markeredgecolor="black", markeredgewidth=0.4, label="alarm raised"))
    return handles


def chart_svg(panel: Panel, data: Mapping[str, Series], frame: Frame) -> str:
    """One chart as an ``<svg>`` element."""
    names = {v.name for v in panel.vitals}
    limits = [row for row in frame.limits if row["vital"] in names]
    y_range = _y_range(panel, data, limits)
    # Text stays text in the SVG: smaller, selectable and searchable.
    with _RENDERING, rc_context({"svg.fonttype": "none", "font.size": 7.0,
                                 "axes.linewidth": 0.6}):
        figure = Figure(figsize=(7.2, 2.0))
        ax = figure.add_axes((0.075, 0.2, 0.84, 0.66))
        for phase, start, end in frame.phases:
            ax.axvspan(_x(start), _x(end), color=PHASES[phase], linewidth=0, zorder=0)
        for vital in panel.vitals:
            series = data.get(vital.name)
            if series is None:
                continue
            if vital.continuous:
                ax.plot(*_with_gaps(series), color=vital.colour, linewidth=0.7, zorder=3)
            else:
                ax.plot(_x(series.t_ms), series.values, color=vital.colour, linewidth=0.5,
                        marker="o", markersize=2.5, zorder=3)
        _draw_limits(ax, panel, frame, limits, y_range)
        alarms = _draw_alarms(ax, panel, frame, y_range)
        ax.set_xlim(_x(frame.start_ms), _x(frame.end_ms))
        ax.set_ylim(*y_range)
        ax.xaxis.set_major_locator(MultipleLocator(_tick_step(frame)))
        ax.xaxis.set_major_formatter(FuncFormatter(_clock))
        ax.set_xlabel("time (UTC)", labelpad=1)
        ax.set_ylabel(panel.axis_label)
        ax.grid(axis="y", linewidth=0.3, color="#d1d5db")
        ax.legend(handles=_legend(panel, frame, limits, alarms), loc="lower left",
                  bbox_to_anchor=(0, 1.0), ncol=8, frameon=False, fontsize=6,
                  handlelength=1.6, borderaxespad=0.2)
        out = io.StringIO()
        figure.savefig(out, format="svg")
    svg = out.getvalue()
    return svg[svg.index("<svg"):]

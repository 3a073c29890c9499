"""Charts drawn on the server as SVG (matplotlib), readable on a grey printer.

Text stays text (`svg.fonttype: none`), in the printed pages' CJK font chain, so the browser and
WeasyPrint draw real glyphs from the server's own fonts and a test can read every label back.
Series differ by shade, hatching, marker and dash, never by colour alone. Nothing from outside
the server: no script, no web font. Figures are built with the object API (no pyplot state)
under one lock, as matplotlib's settings are process-wide.
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
from typing import Sequence

import matplotlib
from matplotlib import ticker
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from web.pdf import FONT_CHAIN

#: Fills from dark to light, each with its own hatching: tell-apart in grey alone.
FILLS = ("#303030", "#8a8a8a", "#d0d0d0", "#ffffff", "#5c5c5c", "#b0b0b0", "#f0f0f0")
HATCHES = ("", "//", "..", "xx", "\\\\", "--", "oo")
MARKERS = ("o", "s", "^", "D")
DASHES = ("-", "--", ":", "-.")

_STYLE = {
    "font.family": ["Noto Sans CJK SC", "DejaVu Sans"],
    "font.size": 9,
    "axes.unicode_minus": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "zongzhi",
    "hatch.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#333333",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#cccccc",
    "grid.linewidth": 0.5,
}
_LOCK = threading.Lock()
_FONT = re.compile(r"font-family: [^;\"]+")
_SIZE = re.compile(r'<svg ([^>]*?)width="[^"]+" height="[^"]+"')


def _figure(height: float = 2.8) -> Figure:
    return Figure(figsize=(5.4, height), layout="constrained")


def _svg(figure: Figure, title: str) -> str:
    out = io.StringIO()
    FigureCanvasSVG(figure)
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = text[text.index("<svg"):]
    # The printed pages' font chain, so a rare character falls back as it does on the notice.
    text = _FONT.sub("font-family: " + FONT_CHAIN.replace('"', "'"), text)
    # Scales with the page: the viewBox stays, the fixed size goes.
    text = _SIZE.sub(r'<svg \1width="100%"', text, count=1)
    # Several charts share a page: each one's ids (markers, hatch patterns, clips) get a
    # prefix of their own, so no chart borrows another's.
    prefix = "c" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8] + "-"
    text = text.replace('id="', f'id="{prefix}').replace("url(#", f"url(#{prefix}").replace(
        'href="#', f'href="#{prefix}')
    return text.replace("<svg ", f'<svg role="img" aria-label="{_escape(title)}" ', 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _draw(title: str, draw, height: float = 2.8) -> str:
    with _LOCK, matplotlib.rc_context(_STYLE):
        figure = _figure(height)
        axes = figure.add_subplot()
        axes.set_title(title, loc="left", fontsize=10)
        draw(axes)
        return _svg(figure, title)


def _x(labels: Sequence[str]) -> list[int]:
    return list(range(len(labels)))


def _month_axis(axes, labels: Sequence[str]) -> None:
    axes.set_xticks(_x(labels), labels, rotation=45 if len(labels) > 8 else 0,
                    ha="right" if len(labels) > 8 else "center")


def lines(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence]], *,
          unit: str = "", line: tuple[str, float] | None = None, percent: bool = False) -> str:
    """Draw one or more series as lines over the months; `line` is a labelled reference line."""
    def draw(axes):
        for i, (name, values) in enumerate(series):
            points = [(x, v) for x, v in zip(_x(labels), values) if v is not None]
            axes.plot([p[0] for p in points], [p[1] for p in points], color="#202020",
                      linestyle=DASHES[i % len(DASHES)], marker=MARKERS[i % len(MARKERS)],
                      markerfacecolor="#ffffff" if i else "#202020", linewidth=1.4, label=name)
        if line is not None:
            axes.axhline(line[1], color="#555555", linestyle=(0, (6, 3)), linewidth=1.0, label=line[0])
        _month_axis(axes, labels)
        axes.set_ylim(bottom=0)
        if unit:
            axes.set_ylabel(unit)
        if percent:
            axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}%"))
        if len(series) > 1 or line is not None:
            axes.legend(loc="best", frameon=False, fontsize=8)
    return _draw(title, draw)


def bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *,
         unit: str = "", stacked: bool = True) -> str:
    """Draw bars over the months, one series on another (stacked), each its own shade and hatch."""
    def draw(axes):
        bottom = [0] * len(labels)
        width = 0.7 if stacked else 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series):
            shift = 0 if stacked else (i - (len(series) - 1) / 2) * width
            axes.bar([x + shift for x in _x(labels)], values, bottom=bottom if stacked else None, width=width,
                     color=FILLS[i % len(FILLS)], hatch=HATCHES[i % len(HATCHES)],
                     edgecolor="#202020", linewidth=0.6, label=name)
            if stacked:
                bottom = [b + v for b, v in zip(bottom, values)]
        _month_axis(axes, labels)
        if unit:
            axes.set_ylabel(unit)
        if len(series) > 1:
            axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _draw(title, draw)


def ranking(title: str, names: Sequence[str], values: Sequence[int], *, unit: str = "") -> str:
    """Draw a horizontal bar per name, largest at the top, its value written beside it."""
    height = max(1.6, 0.32 * len(names) + 0.8)

    def draw(axes):
        y = list(range(len(names)))[::-1]
        axes.barh(y, values, color=FILLS[1], hatch=HATCHES[1], edgecolor="#202020", linewidth=0.6)
        axes.set_yticks(y, names)
        for position, value in zip(y, values):
            axes.annotate(f"{value:,}", (value, position), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=8)
        axes.grid(False)
        axes.grid(True, axis="x", color="#cccccc", linewidth=0.5)
        if unit:
            axes.set_xlabel(unit)
    return _draw(title, draw, height)

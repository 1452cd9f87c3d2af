"""The human run report: one self-contained HTML page per run, beside the JUnit
file's data. A timeline of phases per host drawn as SVG (a picture, not a
table), the outcome of every check and scenario, the scenario timings, the
sections tests recorded (the service table), and links to the diagnostics."""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .secrets import mask

COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


@dataclass(frozen=True)
class Bar:
    host: str
    phase: str
    start: float      # epoch seconds
    seconds: float
    changed: int
    failed: bool


@dataclass(frozen=True)
class Outcome:
    nodeid: str
    outcome: str      # passed, failed, skipped, error
    seconds: float
    message: str = ""


def timeline_svg(bars: Sequence[Bar], width: int = 960) -> str:
    """Hosts as rows, phases as coloured bars along the run's time axis."""
    if not bars:
        return "<p>No phase was applied in this run.</p>"
    hosts = list(dict.fromkeys(b.host for b in bars))
    # a phase's early steps ("p08 early") share its colour, drawn paler
    phases = list(dict.fromkeys(b.phase.split()[0] for b in bars))
    t0 = min(b.start for b in bars)
    t1 = max(b.start + b.seconds for b in bars)
    span = max(t1 - t0, 1.0)
    left, row, top = 110, 26, 30
    plot = width - left - 20
    height = top + row * len(hosts) + 40

    def x(t: float) -> float:
        return left + (t - t0) / span * plot

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">']
    step = _tick(span)
    tick = 0.0
    while tick <= span:
        parts.append(f'<line x1="{x(t0 + tick):.1f}" y1="{top - 5}" x2="{x(t0 + tick):.1f}" '
                     f'y2="{top + row * len(hosts)}" stroke="#ddd"/>'
                     f'<text x="{x(t0 + tick):.1f}" y="{top - 10}" text-anchor="middle">{_clock(tick)}</text>')
        tick += step
    for i, host in enumerate(hosts):
        y = top + i * row
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{html.escape(host)}</text>')
        for b in (b for b in bars if b.host == host):
            colour = "#d62728" if b.failed else COLOURS[phases.index(b.phase.split()[0]) % len(COLOURS)]
            pale = ' fill-opacity="0.55"' if b.phase != b.phase.split()[0] else ""
            w = max(b.seconds / span * plot, 1.5)
            label = f"{b.phase} on {b.host}: {b.seconds:.1f}s, {b.changed} changed" + (", FAILED" if b.failed else "")
            parts.append(f'<rect x="{x(b.start):.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                         f'fill="{colour}"{pale}><title>{html.escape(label)}</title></rect>')
            if w > 28:
                parts.append(f'<text x="{x(b.start) + 3:.1f}" y="{y + 17}" fill="white">{b.phase}</text>')
    legend_y = top + row * len(hosts) + 22
    for j, phase in enumerate(phases):
        parts.append(f'<rect x="{left + j * 70}" y="{legend_y - 10}" width="12" height="12" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{left + j * 70 + 16}" y="{legend_y}">{phase}</text>')
    if any(b.phase != b.phase.split()[0] for b in bars):
        parts.append(f'<text x="{left + len(phases) * 70}" y="{legend_y}">pale: a phase\'s early steps '
                     f'(packages) while the one before runs</text>')
    parts.append("</svg>")
    return "".join(parts)


def _tick(span: float) -> float:
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if span / step <= 12:
            return float(step)
    return 3600.0


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def write(path: Path, title: str, bars: Sequence[Bar], outcomes: Sequence[Outcome],
          timings: Sequence[tuple[str, str, float]], sections: Sequence[tuple[str, str]],
          diagnostics: Path | None, junit: Path | None) -> Path:
    """Write the report to `path` (secrets masked) and return it."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests ran"
    rows = "".join(
        f'<tr class="{o.outcome}"><td>{html.escape(o.nodeid)}</td><td>{o.outcome}</td>'
        f'<td>{o.seconds:.1f}s</td><td><pre>{html.escape(o.message[:2000])}</pre></td></tr>' for o in outcomes)
    timing_rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{seconds:.1f}s</td><td>{html.escape(node)}</td></tr>"
                          for node, name, seconds in timings)
    extra = "".join(f"<h2>{html.escape(t)}</h2><pre>{html.escape(text)}</pre>" for t, text in sections)
    links = []
    if diagnostics and diagnostics.exists():
        links.append(f'<a href="{html.escape(_rel(diagnostics, path))}">diagnostics collected from every host</a>')
    if junit:
        links.append(f'<a href="{html.escape(_rel(junit, path))}">JUnit XML</a>')
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}
tr.failed td,tr.error td{{background:#fdd}} tr.skipped td{{background:#ffd}} pre{{margin:0;white-space:pre-wrap}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}. {' · '.join(links)}</p>
<h2>Timeline of the phases per host</h2>
{timeline_svg(bars)}
<h2>Scenario timings</h2>
<table><tr><th>what</th><th>time</th><th>test</th></tr>{timing_rows or '<tr><td colspan="3">none</td></tr>'}</table>
{extra}
<h2>Checks and scenarios</h2>
<table><tr><th>test</th><th>outcome</th><th>time</th><th>message</th></tr>{rows}</table>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mask(page))
    return path


def _rel(target: Path, page: Path) -> str:
    try:
        return str(target.resolve().relative_to(page.parent.resolve()))
    except ValueError:
        return target.resolve().as_uri()

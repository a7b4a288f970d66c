"""Compare two saved eval runs: per-metric deltas, changed examples, HTML report.

The HTML report is self-contained: one inline SVG bar chart per metric (run A
and run B side by side, with their 95% intervals as whiskers), the delta table
and the examples whose primary metric changed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class MetricDelta(BaseModel):
    name: str
    a: float | None
    b: float | None
    delta: float | None
    a_ci: tuple[float, float] | None
    b_ci: tuple[float, float] | None


class ChangedExample(BaseModel):
    id: str
    metric: str
    a: float | None
    b: float | None
    output_a: Any = None
    output_b: Any = None


class Comparison(BaseModel):
    run_a: str
    run_b: str
    suite: str
    deltas: list[MetricDelta]
    changed: list[ChangedExample]
    common_examples: int


def compare_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> Comparison:
    """Deltas (B minus A) of every metric either run has; examples (matched by id) whose
    primary metric differs between the runs."""
    names = list(dict.fromkeys([*a["summary"], *b["summary"]]))
    deltas = []
    for name in names:
        sa, sb = a["summary"].get(name), b["summary"].get(name)
        ma, mb = (sa or {}).get("mean"), (sb or {}).get("mean")
        deltas.append(
            MetricDelta(
                name=name,
                a=ma,
                b=mb,
                delta=None if ma is None or mb is None else mb - ma,
                a_ci=(sa["low"], sa["high"]) if sa else None,
                b_ci=(sb["low"], sb["high"]) if sb else None,
            )
        )
    primary = b.get("primary_metric") or a.get("primary_metric")
    by_id = {e["id"]: e for e in a["examples"]}
    changed, common = [], 0
    for eb in b["examples"]:
        ea = by_id.get(eb["id"])
        if ea is None:
            continue
        common += 1
        va, vb = ea["metrics"].get(primary), eb["metrics"].get(primary)
        if va != vb:
            changed.append(
                ChangedExample(
                    id=eb["id"], metric=primary, a=va, b=vb, output_a=ea.get("output"), output_b=eb.get("output")
                )
            )
    return Comparison(
        run_a=a["run_id"], run_b=b["run_id"], suite=b["suite"], deltas=deltas, changed=changed, common_examples=common
    )


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def text_report(c: Comparison) -> str:
    width = max([len("metric"), *(len(d.name) for d in c.deltas)])
    lines = [
        f"A = {c.run_a}",
        f"B = {c.run_b}",
        "",
        f"{'metric':<{width}}  {'A':>7}  {'B':>7}  {'B - A':>7}",
        "-" * (width + 29),
    ]
    for d in c.deltas:
        lines.append(f"{d.name:<{width}}  {_fmt(d.a):>7}  {_fmt(d.b):>7}  {_fmt(d.delta, True):>7}")
    lines += [
        "",
        f"{len(c.changed)} of {c.common_examples} common examples changed on "
        f"{c.changed[0].metric if c.changed else 'the primary metric'}:",
    ]
    for ch in c.changed:
        lines.append(f"  {ch.id}: {_fmt(ch.a)} -> {_fmt(ch.b)}")
    return "\n".join(lines)


def _bar_chart(d: MetricDelta, width: int = 320, height: int = 150) -> str:
    values = [v for v in (d.a, d.b, *(d.a_ci or ()), *(d.b_ci or ())) if v is not None]
    top = max([1.0, *values])
    bottom = min([0.0, *values])
    scale = (height - 40) / (top - bottom or 1.0)

    def y(v: float) -> float:
        return 20 + (top - v) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(d.name)}">',
        f'<text x="4" y="14" font-size="12" font-family="sans-serif">{html.escape(d.name)}</text>',
        f'<line x1="30" x2="{width - 10}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#888"/>',
    ]
    for i, (label, value, ci, colour) in enumerate((("A", d.a, d.a_ci, "#8da0cb"), ("B", d.b, d.b_ci, "#fc8d62"))):
        x = 60 + i * 110
        if value is None:
            continue
        y0, y1 = sorted((y(0), y(value)))
        parts.append(
            f'<rect class="bar-{label}" x="{x}" y="{y0:.1f}" width="70" height="{max(y1 - y0, 0.5):.1f}" '
            f'fill="{colour}"><title>{label}: {value:.3f}</title></rect>'
        )
        if ci is not None:
            cx = x + 35
            parts.append(f'<line x1="{cx}" x2="{cx}" y1="{y(ci[0]):.1f}" y2="{y(ci[1]):.1f}" stroke="#333"/>')
        parts.append(
            f'<text x="{x + 35}" y="{height - 4}" font-size="11" text-anchor="middle" '
            f'font-family="sans-serif">{label} {value:.3f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def html_report(c: Comparison) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(d.name)}</td><td>{_fmt(d.a)}</td><td>{_fmt(d.b)}</td><td>{_fmt(d.delta, True)}</td></tr>"
        for d in c.deltas
    )
    changed = "".join(
        f"<tr><td>{e(ch.id)}</td><td>{_fmt(ch.a)}</td><td>{_fmt(ch.b)}</td>"
        f"<td>{e(str(ch.output_a))[:300]}</td><td>{e(str(ch.output_b))[:300]}</td></tr>"
        for ch in c.changed
    )
    charts = "".join(f'<div class="chart">{_bar_chart(d)}</div>' for d in c.deltas)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Eval compare: {e(c.suite)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}} .chart{{display:inline-block;margin:6px}}</style>
</head><body>
<h1>Eval compare: {e(c.suite)}</h1>
<p>A = <code>{e(c.run_a)}</code><br>B = <code>{e(c.run_b)}</code><br>
Bars are means; whiskers are 95% intervals (Wilson for 0/1 metrics, seeded bootstrap otherwise).</p>
<h2>Metrics</h2>
<table><tr><th>metric</th><th>A</th><th>B</th><th>B - A</th></tr>{rows}</table>
<div>{charts}</div>
<h2>Changed examples ({len(c.changed)} of {c.common_examples})</h2>
<table><tr><th>id</th><th>A</th><th>B</th><th>output A</th><th>output B</th></tr>{changed}</table>
</body></html>
"""


def write_html(c: Comparison, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(c), encoding="utf-8")
    return path

"""The fidelity report as one self-contained HTML page: per held-out question, a table of the
figures against the baselines and a bar chart per cluster (true answers, twins, floor)."""

from __future__ import annotations

from html import escape
from typing import Any

SERIES = (("truth", "#333333", "people"), ("twins", "#2a7ab0", "twins"), ("floor", "#9ccc65", "twins' own records"))
BAR, GROUP, CHART_HEIGHT = 14, 96, 120  # a group wide enough for its option's label
LABEL_CHARS = 16


def _chart(cluster: dict[str, Any], options: list[str]) -> str:
    width = len(options) * GROUP + 8
    bars = []
    for i, option in enumerate(options):
        x0 = 8 + i * GROUP
        for j, (series, colour, _label) in enumerate(SERIES):
            share = float(cluster[series].get(option, 0.0))
            height = share * (CHART_HEIGHT - 20)
            bars.append(
                f'<rect x="{x0 + j * BAR}" y="{CHART_HEIGHT - 14 - height:.1f}" width="{BAR - 1}" '
                f'height="{height:.1f}" fill="{colour}"><title>{escape(option)}: {share:.0%} '
                f"({escape(series)})</title></rect>"
            )
        label = escape(option if len(option) <= LABEL_CHARS else option[: LABEL_CHARS - 1] + "…")
        bars.append(f'<text x="{x0}" y="{CHART_HEIGHT - 2}" font-size="9">{label}</text>')
    return f'<svg width="{width}" height="{CHART_HEIGHT}" role="img">{"".join(bars)}</svg>'


def _figure(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_html(report: dict[str, Any]) -> str:
    legend = " ".join(f'<span style="color:{c}">■</span> {escape(label)}' for _, c, label in SERIES)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Twin fidelity</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child"
        "{text-align:left}.clusters{display:flex;flex-wrap:wrap;gap:1.5em}</style></head><body>",
        "<h1>Twin fidelity</h1>",
        f"<p>{escape(str(report.get('records', '')))} records, {escape(str(report.get('clusters', '')))} clusters, "
        f"model <code>{escape(str(report.get('model', '')))}</code>, method {escape(str(report.get('method', 'auto')))}, held out: "
        f"{escape(', '.join(q['column'] for q in report['questions']))}.</p>",
        "<p>TVD: total variation distance between a cluster's answers and its members' true answers "
        "(0 is perfect), averaged over clusters. Floor: the twins' own records, weighted as the survey "
        "weighs them. Accuracy: a twin's most likely answer against its own record.</p>",
    ]
    for question in report["questions"]:
        tvd, accuracy = question["mean_tvd"], question["mean_accuracy"]
        parts.append(f"<h2>{escape(question['question'])} <small>({escape(question['column'])})</small></h2>")
        parts.append(
            "<table><tr><th>mean over clusters</th><th>twins</th><th>floor</th><th>uniform</th>"
            "<th>whole table</th><th>model without record</th></tr>"
            f"<tr><td>TVD</td><td>{_figure(tvd['twins'])}</td><td>{_figure(tvd['floor'])}</td>"
            f"<td>{_figure(tvd['uniform'])}</td><td>{_figure(tvd['table'])}</td><td>{_figure(tvd['no_record'])}</td></tr>"
            f"<tr><td>accuracy</td><td>{_figure(accuracy['twins'])}</td><td>1.000</td><td>–</td><td>–</td>"
            f"<td>{_figure(accuracy['no_record'])}</td></tr></table>"
        )
        parts.append(f"<p>{legend}</p><div class='clusters'>")
        for cluster in question["clusters"]:
            parts.append(
                f"<figure><figcaption>{escape(cluster['cluster_name'])} (TVD {cluster['tvd']['twins']:.3f})"
                f"</figcaption>{_chart(cluster, question['options'])}</figure>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)

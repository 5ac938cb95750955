"""The monitoring report's page: `leadscore monitor`'s result rendered as one
self-contained HTML file, in the evaluation report's style.

The result is the JSON-able dict `cli.monitor` writes as report.json (drift per
feature and of the score, volumes per week, live calibration, advice, notes); the page
comes from the template `templates/monitor.html.j2`, every value escaped by Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.templating import render


def render_monitor_html(report: Mapping[str, Any]) -> str:
    """The monitoring report as one page (no scripts, nothing fetched)."""
    model = report["model"]
    title = f"leadscore monitor: {model['spec']} {model['version'] or ''}".strip()
    return render("monitor.html.j2", title=title, report=report)

"""Template filters of the report's own template engine (see render.py)."""

from __future__ import annotations

from typing import Any

from django import template

from packages_app.report.formatting import human_size as _human_size

register = template.Library()


@register.filter
def human_size(value: Any) -> str:
    return _human_size(int(value)) if value not in (None, "") else ""


@register.filter
def intcomma_plain(value: Any) -> str:
    """1234567 -> 1,234,567 whatever the locale (django.contrib.humanize is not installed)."""
    if value in (None, ""):
        return ""
    return f"{int(value):,}"

"""``{{ name|dotted }}``: a dotted name (``notifications.tasks.deliver``) that a narrow cell breaks after its dots
and underscores, never inside a word (``overflow-wrap: anywhere`` made ``reports.tasks.swe`` / ``ep`` on a phone)."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter(name="dotted")
def dotted(value):
    """The name, escaped, with a line-break opportunity (``<wbr>``) after each ``.`` and ``_``."""
    return mark_safe(re.sub(r"([._])", r"\1<wbr>", escape(value)))  # noqa: S308 - escaped just before

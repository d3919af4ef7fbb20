"""``{{ seconds|seconds }}``: a duration as a person reads it (``42 s``, ``3 min``, ``2 h 5 min``)."""

from django import template

register = template.Library()


@register.filter(name="seconds")
def seconds(value):
    if value is None or value == "":
        return ""
    value = float(value)
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        return f"{value // 60:.0f} min"
    return f"{value // 3600:.0f} h {value % 3600 // 60:.0f} min"

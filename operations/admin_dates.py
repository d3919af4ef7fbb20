"""An admin list's year filter that no date can hold is a 400, not a 500, in every admin list.

Django turns ``?created_at__year=2026`` into a range between two datetimes it makes in Python, when the
query is compiled, and a ``date_hierarchy`` list makes the next year's first day itself: so
``?created_at__year__exact=0``, or ``?created_at__year=9999`` in a list with a date hierarchy, raised a
ValueError while the page rendered (found by fuzzing the outbox's list). This middleware answers such a
request 400 before the view runs, for the project's admins and third-party ones (django-axes's) alike.
"""

import re

from django.core.exceptions import BadRequest

# A year filter on any date field: created_at__year, created_at__year__gte, sent_at__date__iso_year, ...
YEAR_FILTER = re.compile(r"__(year|iso_year)(__(exact|gt|gte|lt|lte))?$")
# The years whose bounds, and the next year's (a date hierarchy's "to" date), Python's dates can hold.
YEARS = range(1, 9999)


def _held(value):
    try:
        return int(value) in YEARS
    except ValueError:
        return True  # not a number: the change list's own "invalid filter" answer


class AdminDateFiltersMiddleware:
    """400 for an admin change list asked to filter by a year outside 1–9998."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.namespace != "admin" or not (match.url_name or "").endswith("_changelist"):
            return None
        for key, values in request.GET.lists():
            if YEAR_FILTER.search(key) and not all(_held(value) for value in values):
                raise BadRequest(f"{key}: a year from {YEARS.start} to {YEARS.stop - 1}")
        return None

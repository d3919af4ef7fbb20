"""Huey's stats dashboard in the admin, with its events page guarded against unbounded page numbers.

Huey 3.5.4's ``HueyDashboardAdmin.events_view`` turns ``?p=`` into an offset with ``int()`` and no upper
bound: ``?p=99999999999999999999`` overflows SQLite's integer and answers 500. A bug of Huey's (see
docs/operations.md, "Security model"); until it is fixed there, a page number past PAGE_LIMIT is a 400 here.
"""

from django.contrib import admin
from django.core.exceptions import BadRequest
from huey.contrib.djhuey.stats.admin import HueyDashboardAdmin
from huey.contrib.djhuey.stats.models import HueyDashboard

PAGE_LIMIT = 10**6  # 100 events a page: far past any events table this site keeps


class GuardedHueyDashboardAdmin(HueyDashboardAdmin):
    def events_view(self, request):
        page = request.GET.get("p", "0")
        try:
            number = int(page)
        except ValueError:
            number = 0  # Huey shows the first page for junk; only the overflow is ours to stop
        if number > PAGE_LIMIT:
            raise BadRequest(f"Page numbers go up to {PAGE_LIMIT}.")
        return super().events_view(request)


if admin.site.is_registered(HueyDashboard):
    admin.site.unregister(HueyDashboard)
admin.site.register(HueyDashboard, GuardedHueyDashboardAdmin)

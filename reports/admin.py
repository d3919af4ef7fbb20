"""Reports in the admin: filter by status, type, owner, duration and error; read the traceback; cancel or retry."""

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import DurationField, ExpressionWrapper, F
from django.template.defaultfilters import filesizeformat, floatformat
from django.urls import reverse
from django.utils.html import format_html

from reports import generation, registry, requests
from reports.models import Report


class TypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(t.slug, t.name) for t in registry.all_types()]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


class DurationFilter(admin.SimpleListFilter):
    title = "duration"
    parameter_name = "duration"
    BANDS = {
        "lt10s": (None, timedelta(seconds=10)),
        "lt1m": (timedelta(seconds=10), timedelta(minutes=1)),
        "lt10m": (timedelta(minutes=1), timedelta(minutes=10)),
        "gte10m": (timedelta(minutes=10), None),
    }

    def lookups(self, request, model_admin):
        return [
            ("lt10s", "under 10 s"),
            ("lt1m", "10 s – 1 min"),
            ("lt10m", "1 – 10 min"),
            ("gte10m", "10 min or more"),
        ]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        low, high = self.BANDS[self.value()]
        queryset = queryset.filter(took__isnull=False)
        if low is not None:
            queryset = queryset.filter(took__gte=low)
        if high is not None:
            queryset = queryset.filter(took__lt=high)
        return queryset


class ErrorFilter(admin.SimpleListFilter):
    title = "error"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "with an error"), ("no", "without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(error="")
        if self.value() == "no":
            return queryset.filter(error="")
        return queryset


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "type",
        "owner",
        "format",
        "status",
        "progress",
        "rows",
        "file_size",
        "created_at",
        "took",
        "short_error",
    )
    list_filter = ("status", TypeFilter, "format", DurationFilter, ErrorFilter, "owner")
    search_fields = ("owner__username", "owner__email", "error", "type")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    actions = ("cancel", "retry")
    fields = (
        "owner",
        "type",
        "params",
        "format",
        "status",
        "progress",
        "row_count",
        "expected_rows",
        "size",
        "download",
        "error",
        "traceback",
        "created_at",
        "started_at",
        "finished_at",
        "attempts",
        "task_link",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_manage_permission(self, request):
        return request.user.has_perm("reports.change_report")

    @admin.display(description="duration", ordering="took")
    def took(self, obj):
        return str(obj.took).split(".")[0] if obj.took is not None else "—"

    @admin.display(description="rows", ordering="row_count")
    def rows(self, obj):
        return floatformat(obj.row_count, "g")  # 23,470

    @admin.display(description="size", ordering="size")
    def file_size(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:80]

    @admin.display(description="file")
    def download(self, obj):
        if obj.status != Report.Status.DONE or not obj.file:
            return "—"
        return format_html(
            '<a href="{}">{}</a> ({})', reverse("reports:download", args=[obj.pk]), obj.download_name, obj.file.name
        )

    @admin.display(description="task")
    def task_link(self, obj):
        """Its durable task in the admin (attempts, errors, consumers), beside every other task."""
        if obj.task_id is None:
            return "—"
        return format_html(
            '<a href="{}">task {}</a>', reverse("admin:durable_task_change", args=[obj.task_id]), obj.task_id
        )

    @admin.action(description="Cancel (queued or running)", permissions=["manage"])
    def cancel(self, request, queryset):
        n = sum(generation.cancel(r) for r in queryset)
        self.message_user(request, f"{n} report(s) cancelled.")

    @admin.action(description="Generate again (failed, cancelled or expired)", permissions=["manage"])
    def retry(self, request, queryset):
        n = 0
        for report in queryset.exclude(status__in=Report.ACTIVE):
            rtype = report.report_type
            if rtype is None:
                continue
            _, created = requests.request_report(report.owner, rtype, report.params, report.format, report.site_url)
            n += created
        self.message_user(request, f"{n} report(s) queued again.", messages.INFO)

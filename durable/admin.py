"""Durable tasks in the admin: filter by name, status and queue; each task's attempts; retry and cancel."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest
from django.db import transaction

from durable.claim import wake
from durable.models import Periodic, Task, TaskAttempt


class TaskAttemptInline(admin.TabularInline):
    """Every run of the task, oldest first: where, how long, how it ended, and its error."""

    model = TaskAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "worker_id", "outcome", "error_class", "error", "traceback")
    readonly_fields = fields
    ordering = ("number", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "queue_name", "priority", "attempts", "due_at", "finished_at", "error")
    list_filter = ("status", "queue_name", "name")
    search_fields = ("name", "unique_key")
    inlines = (TaskAttemptInline,)
    actions = ("retry", "cancel")
    fields = (
        "name",
        "status",
        "args",
        "kwargs",
        "queue_name",
        "priority",
        "group",
        "unique_key",
        "attempts",
        "max_attempts",
        "enqueued_at",
        "due_at",
        "started_at",
        "last_attempted_at",
        "finished_at",
        "return_value",
        "last_error",
        "traceback",
        "worker_ids",
        "claimed_by",
        "lease_expires_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_manage_permission(self, request):
        """Retry and cancel need the model's change permission, though the rows stay read-only."""
        return request.user.has_perm("durable.change_task")

    def response_action(self, request, queryset):
        """A selection that is not a list of ids (a tampered form) is a 400, not a 500."""
        if not all(pk.isascii() and pk.isdigit() for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            raise BadRequest("The selected tasks must be given by their ids.")
        return super().response_action(request, queryset)

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error[:80]

    @admin.action(description="Retry now (failed or cancelled)", permissions=["manage"])
    def retry(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            queued = Task.retry(ids)
            if queued:
                transaction.on_commit(wake)
        self.message_user(request, f"{len(queued)} task(s) queued again.")
        if len(queued) < len(ids):
            self.message_user(
                request,
                f"{len(ids) - len(queued)} skipped: queued, running or done, or their unique key is taken.",
                messages.WARNING,
            )

    @admin.action(description="Cancel (queued only)", permissions=["manage"])
    def cancel(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        n = Task.cancel(ids)
        self.message_user(request, f"{n} task(s) cancelled.")
        if n < len(ids):
            self.message_user(request, f"{len(ids) - n} skipped: not queued (running or finished).", messages.WARNING)


@admin.register(Periodic)
class PeriodicAdmin(admin.ModelAdmin):
    """Read-only: each periodic task's last slot taken (``durable.periodic``); the schedule lives in the code."""

    list_display = ("name", "last_slot", "last_task_id", "updated_at")
    readonly_fields = ("name", "last_slot", "last_task_id", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

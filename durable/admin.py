"""Durable tasks in the admin: filter by name, status and queue; each task's attempts; retry and cancel; paused queues."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest
from django.db import transaction

from durable import control, flow_results, pause
from durable.claim import wake
from durable.models import Flow, PausedQueue, Periodic, Task, TaskAttempt


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
    # Group keys are many (a customer, a host): searched, not listed. Arguments are searched as their JSON text.
    search_fields = ("name", "unique_key", "group", "args", "kwargs")
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
        "flow",
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

    @admin.action(description="Cancel (queued, or stop running)", permissions=["manage"])
    def cancel(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        n = sum(control.cancel(pk) for pk in ids)  # durable.cancel: a running task is stopped by its consumer
        self.message_user(request, f"{n} task(s) cancelled (running ones stop within seconds).")
        if n < len(ids):
            self.message_user(request, f"{len(ids) - n} skipped: already finished.", messages.WARNING)


@admin.register(Periodic)
class PeriodicAdmin(admin.ModelAdmin):
    """Read-only: each periodic task's last slot taken (``durable.periodic``); the schedule lives in the code."""

    list_display = ("name", "last_slot", "last_task_id", "seen_at")
    readonly_fields = ("name", "last_slot", "last_task_id", "updated_at", "seen_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PauseForm(forms.ModelForm):
    """Pausing is choosing one of the configured queues (DURABLE_QUEUES)."""

    name = forms.ChoiceField(label="Queue", help_text="Its tasks are enqueued but not claimed until resumed.")

    class Meta:
        model = PausedQueue
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].choices = [(q, q) for q in pause.queues()]


@admin.register(PausedQueue)
class PausedQueueAdmin(admin.ModelAdmin):
    """Add one to pause a queue on every consumer; delete it (or "Resume") to resume. Running tasks finish."""

    form = PauseForm
    list_display = ("name", "paused_at", "paused_by")
    actions = ("resume",)

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # resume wakes the consumers; a bare delete would not
        return actions

    def save_model(self, request, obj, form, change):
        pause.pause(obj.name, by=request.user.get_username())

    def delete_model(self, request, obj):
        pause.resume(obj.name, by=request.user.get_username())

    @admin.action(description="Resume the selected queues", permissions=["delete"])
    def resume(self, request, queryset):
        names = [q.name for q in queryset]
        for name in names:
            pause.resume(name, by=request.user.get_username())
        self.message_user(request, f"Resumed: {', '.join(names)}.")


class FlowTaskInline(admin.TabularInline):
    """The flow's tasks in order: a chain's steps, or a batch's members (its chains are listed above)."""

    model = Task
    fk_name = "flow"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("name", "status", "attempts", "enqueued_at", "finished_at", "last_error")
    readonly_fields = fields
    ordering = ("id",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    """Chains and batches (``durable.flows``) with their progress; read-only."""

    list_display = ("id", "kind", "status", "progress", "created_at", "finished_at")
    list_filter = ("kind", "status")
    fields = ("kind", "status", "progress", "parent", "chain_list", "callbacks", "created_at", "finished_at")
    readonly_fields = fields
    inlines = (FlowTaskInline,)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress(self, obj):
        """Tasks ended of all its tasks (a batch's chains' steps included)."""
        return flow_results.progress(obj)

    @admin.display(description="chains")
    def chain_list(self, obj):
        return ", ".join(f"chain {pk}" for pk in obj.chains.values_list("pk", flat=True)) or "-"

"""Durable tasks in the admin: filter by name, status, queue and group key, search the arguments; each task's
attempts; retry and cancel the ticked tasks or all matching the filter (after a confirmation with the count);
paused queues; chains and batches with their members and progress."""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest
from django.template.response import TemplateResponse

from durable import bulk, flow_results, pause
from durable.models import Flow, PausedQueue, Periodic, Task, TaskAttempt

logger = logging.getLogger(__name__)

# The change list's query parameters an operator's filter is made of, as the confirmation names them.
FILTER_LABELS = {
    **{f"status{x}": "status" for x in ("", "__exact")},
    **{f"name{x}": "name" for x in ("", "__exact")},
    **{f"queue_name{x}": "queue" for x in ("", "__exact")},
    "group": "group",
}


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


class GroupFilter(admin.SimpleListFilter):
    """By group key (``durable.options``): the keys of unfinished tasks are offered; any key may be given."""

    title = "group key"
    parameter_name = "group"

    def lookups(self, request, model_admin):
        keys = (
            Task.objects.filter(status__in=Task.ACTIVE)
            .exclude(group="")
            .order_by("group")
            .values_list("group", flat=True)
            .distinct()[:30]
        )
        current = [self.value()] if self.value() and self.value() not in keys else []
        return [(k, k) for k in [*keys, *current]]

    def queryset(self, request, queryset):
        return queryset.filter(group=self.value()) if self.value() else queryset


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "queue_name", "priority", "attempts", "due_at", "finished_at", "error")
    list_filter = ("status", "queue_name", "name", GroupFilter)
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

    def response_action(self, request, queryset, **kwargs):  # Django 6.1 adds action_location
        """A selection that is not a list of ids (a tampered form) is a 400, not a 500."""
        if not all(pk.isascii() and pk.isdigit() for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            raise BadRequest("The selected tasks must be given by their ids.")
        return super().response_action(request, queryset, **kwargs)

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error[:80]

    @admin.action(description="Retry now (failed or cancelled)…", permissions=["manage"])
    def retry(self, request, queryset):
        return self._confirmed(request, queryset, "retry")

    @admin.action(description="Cancel (queued, or stop running)…", permissions=["manage"])
    def cancel(self, request, queryset):
        return self._confirmed(request, queryset, "cancel")

    def _confirmed(self, request, queryset, action):
        """First a page that states the count and the filter; its "Yes" (``post=yes``) does it (``durable.bulk``)."""
        if request.POST.get("post") == "yes":
            outcome = (bulk.cancel_matching if action == "cancel" else bulk.retry_matching)(queryset)
            logger.warning("tasks %s: %s by %s in the admin", self._described(request), action, request.user)
            level = messages.SUCCESS if outcome.skipped == 0 else messages.WARNING
            self.message_user(request, outcome.message(), level)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.capitalize()} tasks?",
            "opts": self.model._meta,
            "action": action,
            "count": queryset.count(),
            "described": self._described(request),
            "select_across": request.POST.get("select_across") == "1",
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/durable/task/bulk_confirm.html", context)

    def _described(self, request):
        """``status=queued, name=...`` from the change list's filter; ticked rows are "selected"."""
        parts = [f"{label}={request.GET[k]}" for k, label in FILTER_LABELS.items() if request.GET.get(k)]
        if request.GET.get("q"):
            parts.append(f'search "{request.GET["q"]}" (name, key, group, arguments)')
        if request.POST.get("select_across") != "1":
            parts.append("ticked on the page")
        return ", ".join(parts) or "all tasks"


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

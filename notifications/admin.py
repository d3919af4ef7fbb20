"""The outbox in the admin: filter, search, read, retry, cancel; each message's attempts; the suppression list.

The body of a sensitive e-mail (a password reset link, say: see ``notifications.backend.SENSITIVE_HEADER``)
is redacted for everyone but superusers, and shown to a superuser only when they ask (``?reveal=1``), which
is logged: whoever may view the outbox must not be able to sign in as its recipients.
"""

import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from notifications import suppression
from notifications.models import Attempt, Message, Suppression
from notifications.redaction import REDACTED, REVEAL
from notifications.tasks import deliver_on_commit

logger = logging.getLogger(__name__)


def _when(moment):
    """A date short enough for a list column: "02 Dec 10:42" in the site's time zone."""
    return timezone.localtime(moment).strftime("%d %b %H:%M") if moment else None


class AttemptInline(admin.TabularInline):
    """Every delivery attempt of the message, oldest first: what the relay answered, and who asked."""

    model = Attempt
    extra = 0
    can_delete = False
    fields = ("started_at", "duration_ms", "outcome", "code", "reply", "recipients", "host", "pid")
    readonly_fields = fields
    ordering = ("started_at", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration_ms(self, obj):
        return f"{obj.duration * 1000:.0f} ms"


class WaitingFilter(admin.SimpleListFilter):
    """Queued rows that wait for a rate limit, as opposed to queued for the first time or retrying."""

    title = "waiting"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("throttled", "throttled (rate limit)"), ("retrying", "retrying")]

    def queryset(self, request, queryset):
        queued = queryset.filter(status=Message.Status.QUEUED)
        if self.value() == "throttled":
            return queued.exclude(reason="")
        if self.value() == "retrying":
            return queued.filter(reason="", attempts__gt=0)
        return queryset


# What MessageAdmin.list_filter and its date_hierarchy filter by: model fields and WaitingFilter's parameter.
FILTERABLE = {"status", "created_at", WaitingFilter.parameter_name}


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    # Short columns so the dates and "sent" stay in view at 1280 px beside the filters: the state in words
    # carries the status and the last error (the full error is on the message's page); admin-outbox.css
    # keeps the list to what fits on a phone.
    list_display = ("id", "subject", "to", "state", "attempts", "created", "sent")
    list_filter = ("status", WaitingFilter, "created_at")
    inlines = (AttemptInline,)
    search_fields = ("recipients", "subject")
    date_hierarchy = "created_at"
    actions = ("retry", "cancel")
    fields = (
        "status",
        "from_email",
        "recipients",
        "subject",
        "created_at",
        "due_at",
        "attempts",
        "sent_at",
        "finished_at",
        "reason",
        "last_error",
        "claimed_by",
        "lease_expires_at",
        "message",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def lookup_allowed(self, lookup, value, request):
        """Only the filters the list offers: a lookup on ``raw`` would leak a redacted body one guess at a time,
        and one on the JSON ``recipients`` is a database error (a 500) on SQLite. Anything else is a 400."""
        return lookup.split("__", 1)[0] in FILTERABLE and super().lookup_allowed(lookup, value, request)

    def _shows_body(self, request, obj):
        return not obj.sensitive or (request.user.is_superuser and request.GET.get(REVEAL) == "1")

    def get_fields(self, request, obj=None):
        if obj is None or self._shows_body(request, obj):
            return self.fields
        return (*self.fields[:-1], "revealable_message" if request.user.is_superuser else "redacted_message")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.GET.get(REVEAL) == "1" and request.user.is_superuser and response.status_code == 200:
            obj = response.context_data.get("original")
            if obj is not None and obj.sensitive:
                logger.warning("outbox %s: sensitive body revealed to superuser %s", obj.pk, request.user.pk)
        return response

    def has_manage_permission(self, request):
        """Retry and cancel need the model's change permission, though the rows stay read-only."""
        return request.user.has_perm("notifications.change_message")

    def response_action(self, request, queryset, **kwargs):  # Django 6.1 adds action_location
        """A selection that is not a list of ids (a tampered form) is a 400, not Django's ValueError 500."""
        ids = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        # Ids are 64-bit: a longer number is no row, and the database would refuse the query (a 500).
        if not all(pk.isascii() and pk.isdigit() and int(pk) < 2**63 for pk in ids):
            raise BadRequest("The selected e-mails must be given by their ids.")
        return super().response_action(request, queryset, **kwargs)

    @admin.display(description="to")
    def to(self, obj):
        return ", ".join(obj.recipients)

    class Media:
        css = {"all": ("notifications/admin-outbox.css",)}

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        return obj.status_in_words()

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return _when(obj.created_at)

    @admin.display(description="sent", ordering="sent_at", empty_value="")
    def sent(self, obj):
        return _when(obj.sent_at)

    @admin.display(description="message")
    def message(self, obj):
        return self._render(obj, obj.body_text()[:20000])

    @admin.display(description="message")
    def redacted_message(self, obj):
        return self._render(obj, REDACTED)

    @admin.display(description="message")
    def revealable_message(self, obj):
        return format_html("{}<p><a href='?{}=1'>Reveal the body (logged)</a></p>", self._render(obj, REDACTED), REVEAL)

    def _render(self, obj, body):
        email = obj.email
        headers = "\n".join(
            f"{k}: {v}" for k, v in email.items() if k.lower() in ("from", "to", "cc", "subject", "date", "message-id")
        )
        parts = [p.get_content_type() for p in email.walk() if not p.is_multipart()]
        return format_html(
            "<pre style='white-space:pre-wrap'>{}\n\nParts: {}\n\n{}</pre>", headers, ", ".join(parts), body
        )

    @admin.action(description="Retry now (queued, failed or cancelled)", permissions=["manage"])
    def retry(self, request, queryset):
        with transaction.atomic():
            ids = list(
                queryset.exclude(status__in=[Message.Status.SENDING, Message.Status.SENT]).values_list("pk", flat=True)
            )
            Message.objects.filter(pk__in=ids).update(
                status=Message.Status.QUEUED, due_at=timezone.now(), finished_at=None, lease_token=""
            )
            deliver_on_commit(ids)
        skipped = queryset.count() - len(ids)
        self.message_user(request, f"{len(ids)} e-mail(s) queued for delivery.")
        if skipped:
            self.message_user(request, f"{skipped} skipped: already sent or being sent.", messages.WARNING)

    @admin.action(description="Cancel (queued or failed only)", permissions=["manage"])
    def cancel(self, request, queryset):
        n = queryset.filter(status__in=[Message.Status.QUEUED, Message.Status.FAILED]).update(
            status=Message.Status.CANCELLED, finished_at=timezone.now()
        )
        self.message_user(request, f"{n} e-mail(s) cancelled.")
        if n < queryset.count():
            self.message_user(request, "E-mails already sent or being sent cannot be cancelled.", messages.WARNING)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses not tried any more, why and since when; lift one to try it again."""

    list_display = ("address", "in_force", "failed_at", "reason", "message_link", "lifted_at")
    list_filter = (("lifted_at", admin.EmptyFieldListFilter), "failed_at")
    search_fields = ("address",)
    actions = ("lift",)
    readonly_fields = ("address", "reason", "failed_at", "message", "lifted_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_lift_permission(self, request):
        return request.user.has_perm("notifications.change_suppression")

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj):
        return obj.active

    @admin.display(description="message")
    def message_link(self, obj):
        if obj.message_id is None:
            return "-"
        return format_html('<a href="../message/{}/change/">outbox {}</a>', obj.message_id, obj.message_id)

    @admin.action(description="Lift the suppression (try these addresses again)", permissions=["lift"])
    def lift(self, request, queryset):
        lifted = []
        for entry in queryset:
            try:
                suppression.lift(entry.address)
            except suppression.NotSuppressed as exc:
                self.message_user(request, f"{exc}.", messages.WARNING)
            else:
                lifted.append(entry.address)
        if lifted:
            self.message_user(request, f"Suppression lifted for {', '.join(lifted)}.")

"""The outbox in the admin: filter, search, read, retry, cancel."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from notifications.models import Message
from notifications.tasks import deliver_on_commit


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "to", "status", "attempts", "created_at", "sent_at", "short_error")
    list_filter = ("status", "created_at")
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

    def has_manage_permission(self, request):
        """Retry and cancel need the model's change permission, though the rows stay read-only."""
        return request.user.has_perm("notifications.change_message")

    def response_action(self, request, queryset):
        """A selection that is not a list of ids (a tampered form) is a 400, not Django's ValueError 500."""
        if not all(pk.isascii() and pk.isdigit() for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            raise BadRequest("The selected e-mails must be given by their ids.")
        return super().response_action(request, queryset)

    @admin.display(description="to")
    def to(self, obj):
        return ", ".join(obj.recipients)

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:80]

    @admin.display(description="message")
    def message(self, obj):
        email = obj.email
        headers = "\n".join(
            f"{k}: {v}" for k, v in email.items() if k.lower() in ("from", "to", "cc", "subject", "date", "message-id")
        )
        parts = [p.get_content_type() for p in email.walk() if not p.is_multipart()]
        return format_html(
            "<pre style='white-space:pre-wrap'>{}\n\nParts: {}\n\n{}</pre>",
            headers,
            ", ".join(parts),
            obj.body_text()[:20000],
        )

    @admin.action(description="Retry now (queued, failed or cancelled)", permissions=["manage"])
    def retry(self, request, queryset):
        with transaction.atomic():
            ids = list(
                queryset.exclude(status__in=[Message.Status.SENDING, Message.Status.SENT]).values_list("pk", flat=True)
            )
            Message.objects.filter(pk__in=ids).update(
                status=Message.Status.QUEUED, due_at=timezone.now(), finished_at=None, claim_token=""
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

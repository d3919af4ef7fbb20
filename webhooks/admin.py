"""Webhooks in the admin: endpoints (pause, resume, why paused), deliveries with every attempt."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone

from operations.signals import EVENT_TYPES
from webhooks import delivery, signing
from webhooks.models import Attempt, Delivery, Endpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https", help_text=Endpoint.url.field.help_text)
    events = forms.MultipleChoiceField(choices=list(EVENT_TYPES.items()), widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Endpoint
        fields = ("name", "url", "events", "format")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("name", "host", "event_labels", "format", "state", "consecutive_failures", "pending")
    list_filter = ("format",)
    search_fields = ("name", "url")
    actions = ("pause", "resume", "new_secret")
    readonly_fields = ("secret", "state", "paused_reason", "consecutive_failures", "created_at")

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "events", "format"]
        if obj is None:
            return fields
        if not self.has_change_permission(request, obj):
            # View-only staff see where it points, never the secret nor the URL's path (a chat URL's secret).
            return ["name", "host", "events", "format", *self.readonly_fields[1:]]
        return [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ["name", "host", "events", "format", *self.readonly_fields[1:]]
        return self.readonly_fields

    def get_search_fields(self, request):
        # A search over URLs answers, one guess at a time, what the URL is: only for those who may see it.
        return self.search_fields if self.has_change_permission(request) else ("name",)

    def get_queryset(self, request):
        pending = Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING))
        return super().get_queryset(request).annotate(pending=pending)

    @admin.display(description="pending deliveries", ordering="pending")
    def pending(self, obj):
        return getattr(obj, "pending", None)

    @admin.display(description="state")
    def state(self, obj):
        if obj.paused_at is None:
            return "sending"
        return f"paused since {timezone.localtime(obj.paused_at):%Y-%m-%d %H:%M}: {obj.paused_reason}"

    @admin.action(description="Pause the selected endpoints (deliveries wait)", permissions=["change"])
    def pause(self, request, queryset):
        paused = sum(e.pause(f"paused by {request.user.get_username()}") for e in queryset)
        self.message_user(request, f"{paused} endpoint(s) paused; their deliveries wait until resumed.")

    @admin.action(description="Resume the selected endpoints (what waited is sent, in order)", permissions=["change"])
    def resume(self, request, queryset):
        resumed = delivery.resume(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{resumed} endpoint(s) resumed.")

    @admin.action(description="Give the selected endpoints a new secret", permissions=["change"])
    def new_secret(self, request, queryset):
        for endpoint in queryset:
            Endpoint.objects.filter(pk=endpoint.pk).update(secret=signing.new_secret())
        self.message_user(
            request, "New secrets set: give each receiver its new secret (shown on the endpoint).", messages.WARNING
        )


class AttemptInline(admin.TabularInline):
    """Every POST of the delivery: when, how long, the status and a bounded excerpt of the answer."""

    model = Attempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration", "status_code", "outcome", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "endpoint", "status", "attempts", "created_at", "next_attempt_at", "last_error")
    list_filter = ("status", "event__type", "endpoint")
    list_select_related = ("event", "endpoint")
    search_fields = ("event__uid",)
    inlines = (AttemptInline,)
    fields = ("endpoint", "event", "event_id_header", "status", "attempts", "created_at", "next_attempt_at")
    fields += ("finished_at", "last_error")
    readonly_fields = fields

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj):
        return obj.event.label

    @admin.display(description="webhook-id (idempotency key)")
    def event_id_header(self, obj):
        return obj.event.uid

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

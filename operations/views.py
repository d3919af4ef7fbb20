"""The operations page (staff only) and ``/health/`` (status for anyone, details for staff)."""

import hmac
import logging
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from operations import dashboard, health, metrics
from operations.tasks import send_test_email

logger = logging.getLogger(__name__)


def staff_only(view):
    """Anonymous visitors go to the admin log-in; signed-in non-staff get a 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class TestEmailForm(forms.Form):
    to = forms.EmailField(label="Send a test e-mail to")


@never_cache
@require_GET
@staff_only
def operations_page(request):
    form = TestEmailForm(initial={"to": request.user.email})
    return _page(request, form)


def _page(request, form, status=200):
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "form": form,
        **dashboard.context(),
    }
    return TemplateResponse(request, "operations/page.html", context, status=status)


@never_cache
@require_POST
@staff_only
def test_email(request):
    """Queue a test e-mail through Django's Tasks API; the consumer runs it and the outbox delivers it."""
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        result = send_test_email.enqueue(form.cleaned_data["to"], requested_by=request.user.get_username())
    except Exception as exc:  # noqa: BLE001 - the queue may be down: say so on the page, never a 500
        logger.warning("test e-mail to %s not queued: %s: %s", form.cleaned_data["to"], type(exc).__name__, exc)
        messages.error(request, f"Could not queue the test e-mail: {type(exc).__name__}: {exc}")
    else:
        logger.info("test e-mail task %s queued by %s", result.id, request.user.get_username())
        messages.success(request, f"Test e-mail to {form.cleaned_data['to']} queued (task {result.id}).")
    return redirect("operations:page")


@never_cache
@require_GET
def health_view(request):
    """200 when healthy, 503 when not. Anyone (a load balancer) gets the status; staff get every probe."""
    result = health.report()
    status = 200 if result["status"] == "ok" else 503
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return JsonResponse(result, status=status)
    return JsonResponse({"status": result["status"]}, status=status)


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format, for a scraper with ``Authorization: Bearer <METRICS_TOKEN>`` or a staff session."""
    if not (_bearer_ok(request) or (request.user.is_active and request.user.is_staff)):
        response = HttpResponse("/metrics needs the METRICS_TOKEN bearer token or a staff session.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    body, content_type = metrics.scrape()
    return HttpResponse(body, content_type=content_type)


def _bearer_ok(request):
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())

"""The operations page, ``/metrics`` and ``/health/`` (status for anyone, every probe for those allowed).

``is_staff`` alone opens only the admin's index: these need ``operations.view_operations``, and the test
e-mail ``operations.send_test_email`` (docs/operations.md, "Security model").
"""

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
from throttle.limits import account, limited

logger = logging.getLogger(__name__)


VIEW = "operations.view_operations"
SEND_TEST_EMAIL = "operations.send_test_email"


def may(user, perm=VIEW):
    """Whether ``user`` (possibly anonymous) is active staff with ``perm``."""
    return user is not None and user.is_active and user.is_staff and user.has_perm(perm)


def staff_only(*perms):
    """Anonymous visitors go to the admin log-in; signed-in users without staff and ``perms`` get a 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not all(may(request.user, perm) for perm in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class TestEmailForm(forms.Form):
    to = forms.EmailField(label="Send a test e-mail to")


@never_cache
@require_GET
@staff_only(VIEW)
def operations_page(request):
    form = TestEmailForm(initial={"to": request.user.email})
    return _page(request, form)


def _page(request, form, status=200):
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "form": form,
        "can_send_test_email": may(request.user, SEND_TEST_EMAIL),
        "tasks_url": reverse("operations:tasks"),
        "can_cancel_tasks": may(request.user, "durable.change_task"),
        **dashboard.context(),
    }
    return TemplateResponse(request, "operations/page.html", context, status=status)


@never_cache
@require_POST
@staff_only(VIEW, SEND_TEST_EMAIL)
@limited("test_email", account=account)
def test_email(request):
    """Queue a test e-mail through Django's Tasks API; the consumer runs it and the outbox delivers it.

    Counted per account (RATE_LIMIT_TEST_EMAIL_ACCOUNT): it can go to any address.
    """
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
    """200 when healthy, 503 when not. Anyone (a load balancer) gets the status; ``may`` users every probe."""
    result = health.report()
    status = 200 if result["status"] == "ok" else 503
    if may(getattr(request, "user", None)):
        return JsonResponse(result, status=status)
    return JsonResponse({"status": result["status"]}, status=status)


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format, for a scraper with ``Authorization: Bearer <METRICS_TOKEN>`` or a ``may`` session."""
    if not (_bearer_ok(request) or may(request.user)):
        response = HttpResponse(
            "/metrics needs the METRICS_TOKEN bearer token or a staff session with operations.view_operations.\n",
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    body, content_type = metrics.scrape()
    return HttpResponse(body, content_type=content_type)


def _bearer_ok(request):
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())

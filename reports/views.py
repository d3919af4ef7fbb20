"""Ask for a report, watch it, download it, cancel it.

A report is seen by its owner and by staff with the ``reports.view_report`` permission;
anyone else gets a 404. A report type is offered only to those it allows (``ReportType.scope``).
"""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reports import generation, registry, requests
from reports.formats import CONTENT_TYPES
from reports.forms import FormatForm
from reports.models import Report
from throttle.limits import account, client, limited

logger = logging.getLogger(__name__)


def _own(request, pk, perm="reports.view_report"):
    """The report if the user owns it, or is staff with ``perm`` over everyone's; 404 otherwise.

    Someone else's report also needs what its type needs to be run over that data (``readable_by``):
    ``reports.view_report`` alone does not read an e-mail log that ``notifications.view_message`` guards.
    """
    reports = Report.objects.select_related("owner")
    if not (request.user.is_staff and request.user.has_perm(perm)):
        reports = reports.filter(owner=request.user)
    report = get_object_or_404(reports, pk=pk)
    if report.owner_id != request.user.pk and not readable_by(report, request.user):
        logger.warning("user %s refused report %s: its type needs a permission they lack", request.user.pk, pk)
        raise Http404("No such report.")
    return report


def readable_by(report, user):
    """Whether ``user`` may read ``report``'s data: the permission its type needs for the scope it covers."""
    rtype = report.report_type
    return rtype is not None and (not rtype.permission or user.has_perm(rtype.permission))


def _site_url(request):
    return request.build_absolute_uri("/").rstrip("/")


@login_required
@require_http_methods(["GET", "POST"])
@limited("reports", client=client, account=account)
def index(request):
    """The user's reports, and a form per report type to generate a new one."""
    allowed = [(t, t.scope(request.user)) for t in registry.all_types()]
    allowed = [(t, scope) for t, scope in allowed if scope is not None]
    forms = {t.slug: t.form() for t, _ in allowed}
    format_form = FormatForm()
    status = 200
    chosen = None
    if request.method == "POST":
        chosen = registry.get(request.POST.get("type", ""))
        if chosen is None:
            messages.error(request, "Unknown report type: choose one of the reports below.")
            status = 400
        elif chosen.slug not in forms:
            logger.warning("user %s refused report type %s: no permission", request.user.pk, chosen.slug)
            raise PermissionDenied(f"You may not run the “{chosen.name}” report.")
        else:
            form = forms[chosen.slug] = chosen.form(request.POST)
            format_form = FormatForm(request.POST)
            if form.is_valid() and format_form.is_valid():
                try:
                    report, created = requests.request_report(
                        request.user,
                        chosen,
                        registry.to_params(form.cleaned_data),
                        format_form.cleaned_data["format"],
                        site_url=_site_url(request),
                    )
                except requests.TooManyActive as exc:
                    form.add_error(None, str(exc))
                else:
                    if not created:
                        messages.info(request, "This report is already being generated: here it is.")
                    return redirect(report)
            status = 400
    page = Paginator(Report.objects.filter(owner=request.user).order_by("-id"), 25).get_page(request.GET.get("page"))
    types = [(t, forms[t.slug], scope) for t, scope in allowed]
    return render(
        request,
        "reports/index.html",
        {"page": page, "types": types, "format_form": format_form, "chosen": chosen},
        status=status,
    )


@never_cache
@login_required
@require_GET
def detail(request, pk):
    """One report: a progress bar while it runs, the download link when done."""
    report = _own(request, pk)
    return render(request, "reports/detail.html", {"report": report, "expired": report.is_expired()})


@never_cache
@login_required
@require_GET
def status(request, pk):
    """Where the report stands, as JSON, for the progress bar."""
    report = _own(request, pk)
    return JsonResponse(_status(report))


def _status(report):
    expired = report.is_expired()
    return {
        "id": report.pk,
        "status": Report.Status.EXPIRED.value if expired else report.status,
        "status_display": Report.Status.EXPIRED.label if expired else report.get_status_display(),
        "progress": report.progress,
        "row_count": report.row_count,
        "size": report.size,
        "error": report.error,
        "download_url": reverse("reports:download", args=[report.pk])
        if report.status == Report.Status.DONE and not expired
        else None,
    }


@login_required
@require_GET
def download(request, pk):
    """The file as an attachment; 409 while it is not ready, 410 once expired."""
    report = _own(request, pk)
    if report.is_expired():
        return render(request, "reports/expired.html", {"report": report}, status=410)
    if report.status != Report.Status.DONE:
        return render(request, "reports/not_ready.html", {"report": report}, status=409)
    logger.info("report %s downloaded by user %s", report.pk, request.user.pk)
    return FileResponse(
        report.file.open("rb"),
        as_attachment=True,
        filename=report.download_name,
        content_type=CONTENT_TYPES[report.format],
    )


@login_required
@require_POST
def cancel(request, pk):
    """Stop a queued or running report; 409 if it already finished. Others' reports need the change permission."""
    report = _own(request, pk, perm="reports.change_report")
    if not generation.cancel(report):
        report.refresh_from_db()
        return render(request, "reports/not_cancellable.html", {"report": report}, status=409)
    messages.info(request, "The report was cancelled.")
    return redirect(report)


@login_required
@require_POST
@limited("reports", client=client, account=account)
def again(request, pk):
    """Generate a finished, failed, cancelled or expired report again, with the same parameters and format."""
    report = _own(request, pk)
    rtype = report.report_type
    if rtype is None:
        return render(request, "reports/not_cancellable.html", {"report": report, "gone": True}, status=410)
    try:
        new, _ = requests.request_report(request.user, rtype, report.params, report.format, site_url=_site_url(request))
    except registry.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    except requests.TooManyActive as exc:
        messages.error(request, str(exc))
        return redirect(report)
    return redirect(new)

"""The operations page's task list: filter tasks, cancel or retry one, or every task matching the filter.

Seeing it needs ``operations.view_operations``; cancel and retry need ``durable.change_task`` too (the admin's
actions ask the same): without it no button shows and a POST is a 403. A bulk action first answers a
confirmation page that states the count and the filter; only its "Yes" does it (docs/operations.md).
"""

import logging
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from durable import bulk, flow_results
from durable.compat import TaskResultDoesNotExist
from durable.models import Flow
from durable.task_filter import TaskFilter
from operations.views import VIEW, may, staff_only

logger = logging.getLogger(__name__)

MANAGE = "durable.change_task"
SEE_ARGUMENTS = ("durable.view_task", MANAGE)  # the admin shows a task's arguments to these
ACTIONS = {"cancel": bulk.cancel_matching, "retry": bulk.retry_matching}
SHOWN = 100  # rows listed; the count and the bulk actions cover every match


def _context(request, **extra):
    return {
        **admin.site.each_context(request),
        "can_manage": may(request.user, MANAGE),
        "can_see_arguments": any(request.user.has_perm(p) for p in SEE_ARGUMENTS),
        **extra,
    }


@never_cache
@require_GET
@staff_only(VIEW)
def task_list(request):
    """The newest ``SHOWN`` tasks matching the filter, how many match in all, and the flow's progress if one."""
    form = TaskFilter(request.GET)
    if not form.is_valid():
        context = _context(request, title="Tasks", form=form, tasks=[], count=0, query="")
        return TemplateResponse(request, "operations/tasks.html", context, status=400)
    rows = form.queryset()
    flow = Flow.objects.filter(pk=form.cleaned_data["flow"]).first() if form.cleaned_data["flow"] else None
    context = _context(
        request,
        title="Tasks",
        form=form,
        tasks=rows.order_by("-id")[:SHOWN],
        count=rows.count(),
        described=form.describe(),
        params=form.params(),
        query=urlencode(form.params()),
        flow=flow,
        flow_progress=flow_results.progress(flow) if flow else "",
    )
    return TemplateResponse(request, "operations/tasks.html", context)


@never_cache
@require_POST
@staff_only(VIEW, MANAGE)
def task_action(request, pk, action):
    """Cancel or retry the one task ``pk`` (no confirmation: the button names it), then back to the list (or to the
    operations page, ``?back=page``)."""
    try:
        outcome = ACTIONS[action](bulk.one(pk))
    except (KeyError, TaskResultDoesNotExist):
        raise Http404(f"no task {pk} to {action}") from None
    level = messages.SUCCESS if outcome.skipped == 0 else messages.WARNING
    messages.add_message(request, level, f"Task {pk}: {outcome.message()}")
    logger.warning("task %s: %s by %s", pk, action, request.user.get_username())
    if request.GET.get("back") == "page":  # from the operations page's "Running now"
        return redirect("operations:page")
    return _back(request.GET)


@never_cache
@require_POST
@staff_only(VIEW, MANAGE)
def task_bulk(request):
    """Cancel or retry every task matching the posted filter: a confirmation with the count first, then on "yes"."""
    action = request.POST.get("action")
    form = TaskFilter(request.POST)
    if action not in ACTIONS or not form.is_valid():
        context = _context(request, title="Tasks", form=form, tasks=[], count=0, query="")
        if action not in ACTIONS:
            messages.error(request, "Choose cancel or retry.")
        return TemplateResponse(request, "operations/tasks.html", context, status=400)
    rows = form.queryset()
    if request.POST.get("confirm") != "yes":
        context = _context(
            request,
            title=f"{action.capitalize()} tasks?",
            action=action,
            count=rows.count(),
            described=form.describe(),
            params=form.params(),
            query=urlencode(form.params()),
        )
        return TemplateResponse(request, "operations/tasks_confirm.html", context)
    outcome = ACTIONS[action](rows)
    logger.warning("tasks matching %s: %s by %s", form.describe(), action, request.user.get_username())
    level = messages.SUCCESS if outcome.skipped == 0 else messages.WARNING
    messages.add_message(request, level, f"Matching {form.describe()}: {outcome.message()}")
    return _back(form.params())


def _back(params):
    """The task list with the filter it came from (re-validated there)."""
    query = urlencode({k: v for k, v in params.items() if k in TaskFilter.base_fields})
    return redirect(f"{reverse('operations:tasks')}{'?' + query if query else ''}")

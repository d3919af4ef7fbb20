"""Upgrading to reports as durable tasks: a report queued or running at the upgrade still finishes, told once."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from notifications.models import Message
from reports.models import Report
from tests.reports_data import user

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(to):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(to)
    return executor


def test_a_report_running_at_the_upgrade_gets_its_task_and_finishes(run_tasks):
    graph = MigrationExecutor(connection).loader.graph
    [upgrade] = [key for key in graph.leaf_nodes() if key[0] == "reports"]
    ours = next(key for key in graph.forwards_plan(upgrade) if key[0] == "reports" and "durable_task" in key[1])
    [before] = [parent.key for parent in graph.node_map[ours].parents if parent.key[0] == "reports"]
    ada = user("ada", joined="2026-03-01")
    try:
        old = migrate([before]).loader.project_state([before]).apps.get_model("reports", "Report")
        params = {"start": "2026-03-01", "end": "2026-03-02"}
        common = {"owner_id": ada.pk, "type": "signups-per-day", "params": params, "format": "csv"}
        running = old.objects.create(
            **common, status="running", attempts=1, lease_token="t", claimed_by="gone:1", progress=40
        )
        queued = old.objects.create(**{**common, "format": "xlsx"}, status="queued")
    finally:
        migrate(graph.leaf_nodes())

    assert run_tasks() == 4  # each report's generation, then its e-mail step (chained by reports 0004)

    for pk in (running.pk, queued.pk):
        report = Report.objects.get(pk=pk)
        assert (report.status, report.progress, report.row_count) == ("done", 100, 2), report.traceback
    assert Message.objects.filter(subject__startswith="Your report is ready").count() == 2

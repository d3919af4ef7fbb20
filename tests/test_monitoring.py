"""deploy/monitoring: the alert rules check and fire as written, and every metric they name is served."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

MONITORING = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool")  # Debian: apt-get install prometheus
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")


@pytest.mark.process
@needs_promtool
def test_the_alert_rules_are_valid_prometheus_rules():
    done = subprocess.run([PROMTOOL, "check", "rules", "mysite-alerts.yml"], cwd=MONITORING, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.process
@needs_promtool
def test_each_alert_fires_on_the_series_it_is_written_for():
    done = subprocess.run([PROMTOOL, "test", "rules", "mysite-alerts.test.yml"], cwd=MONITORING, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


def served_names(client, settings):
    settings.METRICS_TOKEN = "t"
    text = client.get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    families = list(text_string_to_metric_families(text))  # a labelled family with no rows yet has no samples
    return {f.name for f in families} | {sample.name for f in families for sample in f.samples}


@pytest.mark.django_db
def test_every_metric_the_rules_and_the_dashboard_name_is_served(client, settings):
    served = served_names(client, settings)
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = set(re.findall(r"\bmysite_[a-z_]+", " ".join(exprs) + (MONITORING / "mysite-alerts.yml").read_text()))

    assert named and named <= served, named - served
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

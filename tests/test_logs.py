"""LOG_FORMAT=json: one JSON object per line, with the task, ids, duration and outcome as fields."""

import json
import subprocess
import sys

import pytest
from django.core.mail import send_mail
from django.db import connection

from notifications.models import Message
from testing.consumer import BASE_DIR, consumer_env, database_url
from testing.plugin import wait_until


def records(text):
    """Every line parsed as JSON (fails on the first line that is not one object)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.consumer
def test_the_consumer_logs_one_json_object_per_line(start_consumer, smtp_server):
    consumer = start_consumer(smtp_server.url, LOG_FORMAT="json")
    send_mail("Hello", "Body", "from@example.com", ["to@example.com"])
    smtp_server.wait_for(1)
    row = Message.objects.get()

    def ended():
        lines = records(consumer.log())
        sent = [r for r in lines if r.get("outbox_ids") == [row.pk]]
        done = [r for r in lines if sent and r.get("outcome") == "complete" and r["task_id"] == sent[0].get("task_id")]
        return sent and done and (sent[0], done[0])

    wait_until(ended, message="the sent line and its task's outcome line")
    sent, ended = ended()

    assert sent["outcome"] == "sent" and sent["duration"] >= 0
    # Who wrote it: the commit's wake-up, or (a consumer whose start-up look at the outbox came after the commit, seen
    # on a loaded machine) the outbox's own delivery task; its outcome line names the same task.
    assert sent["task"] in ("mysite.wakeups.wake", "notifications.tasks.deliver") and sent["task_id"]
    assert ended["task"] == sent["task"] and ended["duration"] >= 0
    assert ended["logger"] == "operations.logs" and ended["level"] == "INFO"
    assert {"time", "process", "thread", "message"} <= ended.keys()


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_the_web_logs_json_too_and_text_stays_the_default():
    script = (
        "import sys, django; django.setup()\n"
        "from django.test import Client\n"
        "name = sys.argv[1]\n"
        "data = {'username': name, 'email': name + '@example.com', 'password1': 'pw-7zq!-long', 'password2': 'pw-7zq!-long'}\n"
        "assert Client().post('/accounts/signup/', data).status_code == 302\n"
    )

    def run(name, **env):
        environ = consumer_env(database_url(connection.settings_dict), "sqlite:///:memory:", "memorymail://", **env)
        environ["ALLOWED_HOSTS"] = "testserver"
        done = subprocess.run(
            [sys.executable, "-c", script, name], cwd=BASE_DIR, env=environ, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    (signed_up,) = [r for r in records(run("ann", LOG_FORMAT="json")) if r["logger"] == "accounts.views"]
    assert signed_up["message"].startswith("user ") and signed_up["level"] == "INFO"

    text = run("bob")
    assert "INFO accounts.views" in text and "signed up" in text and not text.lstrip().startswith("{")

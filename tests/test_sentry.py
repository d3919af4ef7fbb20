"""Sentry: a task's exception arrives with the task name and its arguments' shape, never bodies or secrets.

The events are built by sentry-sdk itself (Django and Huey integrations, our ``before_send``) from a
real exception inside a real Huey task run, and captured by an in-memory transport (the SDK's own
``Transport`` interface) instead of going over the network.
"""

import json
import os
import subprocess
import sys

import pytest
import sentry_sdk
from django.test import Client
from django.urls import path
from huey.contrib.djhuey import HUEY, task
from huey.exceptions import TaskException
from sentry_sdk.transport import Transport

import operations.tasks  # noqa: F401 - connects the task signals the scrubber reads
from operations import sentry
from testing.consumer import BASE_DIR

BODY = "Dear Ann, your invoice 4471 is attached. Reset code 918273."
ADDRESS = "ann.customer@example.org"
PASSWORD = "hunter2-correct-horse"


class CapturingTransport(Transport):
    """Keeps every envelope in memory."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self):
        return [item.payload.json for env in self.envelopes for item in env.items if item.type == "event"]


@task()
def render_and_send(ids, subject, body, to, smtp_password=None):
    """A task that fails the way a careless one would: its message carries a body and an address."""
    message = f"could not send {subject!r} to {to}: {body}"  # noqa: F841 - a local the SDK would collect
    from django.conf import settings

    raise RuntimeError(f"relay refused {to} (passwords {smtp_password}, {settings.EMAIL_HOST_PASSWORD} rejected)")


def boom(request):
    raise ValueError(f"cannot sign up {request.POST['email']}")


urlpatterns = [path("boom/", boom)]  # this module is the URLconf of the web test below


@pytest.fixture
def captured():
    transport = CapturingTransport()
    sentry.init("https://public@127.0.0.1:9/1", environment="test", transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    # Off again for the rest of the suite: no DSN and no integration (an auto-enabled Huey integration
    # would go on adding trace headers to every task this process enqueues).
    sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)


@pytest.fixture
def immediate():
    HUEY.immediate = True
    yield
    HUEY.immediate = False


def test_a_task_exception_arrives_named_and_shaped_without_bodies_or_secrets(captured, immediate, settings):
    settings.EMAIL_HOST_PASSWORD = "relay-pw-5531"
    with pytest.raises(TaskException):  # the task ran and raised RuntimeError
        render_and_send([41, 42], "Your invoice", BODY, ADDRESS, smtp_password=PASSWORD).get()
    sentry_sdk.flush()

    (event,) = captured.events()
    text = json.dumps(event)
    job = event["extra"]["huey-job"]
    assert job["task"] == "tests.test_sentry.render_and_send"
    assert job["args"] == "list[4] of list[2] of int, str[12], str[24], str[59]"
    assert job["kwargs"] == {"smtp_password": "[Filtered]"}  # a secret-named argument: not even its shape
    assert event["tags"]["task"] == "tests.test_sentry.render_and_send"
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "RuntimeError" and exc["mechanism"]["type"] == "huey"
    assert any(f["function"] == "render_and_send" for f in exc["stacktrace"]["frames"])  # still findable
    assert exc["value"] == "relay refused [email] (passwords [Filtered], [Filtered] rejected)"
    for never in (BODY, "invoice 4471", ADDRESS, PASSWORD, "relay-pw-5531"):
        assert never not in text


@pytest.mark.django_db
def test_a_view_error_arrives_without_the_form_or_the_user(captured, settings):
    # Django's test client skips the WSGI handler the SDK wraps, so no request block is built here;
    # under gunicorn it is, and data_collection keeps the body out of it (http_bodies=[]).
    settings.ROOT_URLCONF = "tests.test_sentry"
    client = Client(raise_request_exception=False)

    response = client.post("/boom/?next=/x", {"email": ADDRESS, "password": PASSWORD, "note": BODY})
    sentry_sdk.flush()

    assert response.status_code == 500
    (event,) = captured.events()
    text = json.dumps(event)
    assert event["exception"]["values"][0]["value"] == "cannot sign up [email]"
    assert event["exception"]["values"][0]["mechanism"]["type"] == "django"
    assert "user" not in event
    for never in (BODY, ADDRESS, PASSWORD):
        assert never not in text


def test_the_scrubber_filters_secret_keys_and_addresses_anywhere():
    event = {
        "request": {"headers": {"Authorization": "Bearer abc", "Cookie": "sessionid=x", "Host": "site"}},
        "breadcrumbs": {"values": [{"message": "test e-mail to bob@example.com queued", "category": "operations"}]},
        "extra": {"EMAIL_HOST_PASSWORD": "pw", "note": "from ops@corp.example.co.uk"},
    }

    out = sentry.scrub(event)

    assert out["request"]["headers"] == {"Authorization": "[Filtered]", "Cookie": "[Filtered]", "Host": "site"}
    assert out["breadcrumbs"]["values"][0]["message"] == "test e-mail to [email] queued"
    assert out["extra"] == {"EMAIL_HOST_PASSWORD": "[Filtered]", "note": "from [email]"}


@pytest.mark.process
@pytest.mark.parametrize("dsn, active", [("", False), ("https://public@127.0.0.1:9/1", True)])
def test_sentry_dsn_turns_it_on_and_empty_leaves_it_off(dsn, active):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", SENTRY_DSN=dsn)
    script = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    done = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(active)


@pytest.mark.consumer
def test_a_consumer_without_sentry_runs_tasks_a_sentry_enabled_web_enqueued(captured, start_consumer, smtp_server):
    from django.core.mail import send_mail

    start_consumer(smtp_server.url)  # no SENTRY_DSN; started first, so only the enqueued task sends it

    send_mail("Traced", "Body", "from@example.com", ["to@example.com"])  # enqueued with sentry_headers

    assert [m.subject for m in smtp_server.wait_for(1, timeout=20)] == ["Traced"]

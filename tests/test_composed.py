"""An e-mail kept as data in the request and rendered in the consumer is, byte for byte, what the request asked."""

import copy
import json

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import connection

from notifications.backend import SENSITIVE_HEADER
from notifications.models import Message
from tests.mail_data import MODERN, sent_by_django

pytestmark = pytest.mark.django_db(transaction=True)

PNG = bytes(range(256)) * 4  # binary content: base64 in the data, base64 in the MIME


def what_the_request_would_have_sent(message, row):
    """The old way: ``message()`` flattened in the request, with the row's Date and Message-ID and fixed boundaries."""
    asked = copy.copy(message)
    fixed = {k: v for k, v in row.data["headers"] if k in ("Date", "Message-ID")}
    kept = {k: v for k, v in message.extra_headers.items() if k.lower() != SENSITIVE_HEADER.lower()}
    asked.extra_headers = {**fixed, **kept}
    return sent_by_django(asked)


def stored(message):
    message.send()
    row = Message.objects.get(pk=message.outbox_id)  # read back as the consumer does: from the database's JSON
    assert row.data is not None and row.raw in (b"", memoryview(b""))
    return row


def everything():
    message = EmailMultiAlternatives(
        "Rapport für Zoë — résumé ✓",
        "Grüße, Zoë\n\nThe plain part.\n",
        "Zoë Müller <zoe@example.com>",
        ["Ådne <adne@example.com>", "bob@example.com"],
        bcc=["hidden@example.com"],
        cc=["Çelik <celik@example.com>"],
        reply_to=["Support <help@example.com>"],
        headers={"X-Campaign": "winter", "List-Unsubscribe": "<https://example.com/u/1>", SENSITIVE_HEADER: "yes"},
    )
    message.attach_alternative("<p>Grüße, <b>Zoë</b></p>", "text/html")
    message.attach("données-été.csv", "a;b\né;ü\n", "text/csv")
    message.attach("logo.png", PNG, "image/png")
    message.attach("notes.txt", "plain ASCII name", None)  # guessed type, as Django guesses it
    return message


def test_everything_a_message_can_carry_renders_byte_for_byte():
    message = everything()
    row = stored(message)

    sent = row.mime()

    assert sent == what_the_request_would_have_sent(message, row)
    assert SENSITIVE_HEADER.encode() not in sent and row.sensitive
    assert b"hidden@example.com" not in sent and "hidden@example.com" in row.recipients  # Bcc: envelope only
    email = row.email
    assert email["Subject"] == "Rapport für Zoë — résumé ✓"
    assert [a.get_filename() for a in email.iter_attachments()] == ["données-été.csv", "logo.png", "notes.txt"]
    assert [a.get_content() for a in email.iter_attachments()][1] == PNG


@pytest.mark.parametrize(
    "message",
    [
        EmailMessage("Plain", "Just text.", "from@example.com", ["to@example.com"]),
        EmailMessage(
            "Own date", "x", "f@example.com", ["t@example.com"], headers={"Date": "Tue, 1 Dec 2026 10:00:00 -0000"}
        ),
        EmailMessage("Own id", "x", "f@example.com", ["t@example.com"], headers={"Message-Id": "<mine@example.com>"}),
        EmailMessage(
            "From header", "x", "f@example.com", ["t@example.com"], headers={"From": "Desk <desk@example.com>"}
        ),
    ],
    ids=["plain", "own-date", "own-message-id", "from-header"],
)
def test_simple_messages_render_byte_for_byte(message):
    row = stored(message)

    assert row.mime() == what_the_request_would_have_sent(message, row)


def test_headers_folded_for_one_message_are_folded_alike_for_the_next():
    # The consumer keeps the headers it folded (notifications.folding): the same value under another name, the
    # same name with another value, long enough to fold or not, ASCII or not: each message gets its own bytes.
    long = "a value long enough to be folded over more than one line by the header folding, " * 2
    headers = [
        {"X-First": long},
        {"X-Second": long},
        {"X-First": long + "é"},
        {"X-First": "short", "X-Second": long},
        {"X-Second": "short"},
    ]
    for i, extra in enumerate(headers):
        message = EmailMessage(f"Subject {i}", "x", "f@example.com", ["t@example.com"], headers=extra)
        row = stored(message)
        assert row.mime() == what_the_request_would_have_sent(message, row)


def html_with_attachment():
    message = EmailMessage("HTML", "<p>only html</p>", "f@example.com", ["t@example.com"])
    message.content_subtype = "html"
    message.encoding = "iso-8859-1"
    message.attach("ça.txt", "texte", "text/plain")
    return message


def test_html_only_with_another_charset_renders_byte_for_byte():
    message = html_with_attachment()
    row = stored(message)

    assert row.mime() == what_the_request_would_have_sent(message, row)


@pytest.mark.skipif(MODERN, reason="Django 6 has no mixed_subtype (it refuses the attribute)")
def test_a_changed_mixed_subtype_renders_byte_for_byte():
    message = html_with_attachment()
    message.mixed_subtype = "related"
    row = stored(message)

    assert row.mime() == what_the_request_would_have_sent(message, row)


@pytest.mark.skipif(not MODERN, reason="Django 5.2 has mixed_subtype")
def test_a_mixed_subtype_is_refused_in_the_request_as_django_6_refuses_it():
    message = html_with_attachment()
    message.mixed_subtype = "related"

    with pytest.raises(AttributeError, match="mixed_subtype"):
        message.send()
    assert not Message.objects.exists()


def test_it_renders_the_same_bytes_at_every_attempt_and_after_a_deploy():
    """Date and Message-ID were fixed at request time; the stored data is plain JSON any version reads."""
    row = stored(everything())
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM notifications_message WHERE id = %s", [row.pk])
        data = cursor.fetchone()[0]
    again = Message.objects.get(pk=row.pk)

    assert again.mime() == row.mime()
    assert json.loads(data) if isinstance(data, str) else data  # JSON in the database, not a pickle


def test_a_message_only_the_request_can_render_is_stored_as_bytes():
    """A MIME object attached as is cannot be kept as fields: it is rendered in the request, as before."""
    from email.mime.text import MIMEText

    message = EmailMessage("Odd", "x", "f@example.com", ["t@example.com"])
    message.attach(MIMEText("inline part"))
    message.send()
    row = Message.objects.get()

    assert row.data is None and b"inline part" in bytes(row.raw)
    assert row.mime() == bytes(row.raw)


def test_a_row_queued_before_the_upgrade_still_sends_its_bytes(deliver_now):
    """Rows stored as MIME bytes (before data existed) are sent as they are."""
    raw = b"From: f@example.com\r\nTo: t@example.com\r\nSubject: old row\r\n\r\nstored before the upgrade\r\n"
    Message.objects.create(from_email="f@example.com", recipients=["t@example.com"], subject="old row", raw=raw)

    [arrived] = deliver_now()

    assert arrived.data.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert Message.objects.get().status == Message.Status.SENT


@pytest.mark.skipif(not MODERN, reason="Django 5.2 sends a second Subject header, and a Bcc header")
@pytest.mark.parametrize("header", ["Subject", "content-type", "Bcc"])
def test_a_header_django_6_refuses_is_refused_in_the_request(header):
    message = EmailMessage("Hi", "x", "f@example.com", ["t@example.com"], headers={header: "text/plain"})

    with pytest.raises(ValueError, match="at most 1|Bcc"):
        message.send()
    assert not Message.objects.exists()

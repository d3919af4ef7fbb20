"""A one-part message written straight from its fields (``notifications.one_part``) is, byte for byte, what Django's
``message()`` flattens to; anything else is left to the full path."""

import copy
import itertools
import json
import random
import string
from email.header import Header
from email.policy import compat32

import pytest
from django.core.mail import EmailMessage

from notifications import composed, folding, one_part
from tests.mail_data import MODERN, sent_by_django

SUBJECTS = [
    "Welcome",
    "A subject long enough that the header folding has to break it over two lines or more, at a space",
    "Grüße aus Zürich",
    "Ünïcödé " * 12,
    "  spaces  around  ",
    "looks =?utf-8?q?encoded?= but is not",
    "tab\tinside",
    "",
]
BODIES = [
    "Hello,\n\nA body.\n",
    "",
    "no newline at the end",
    "crlf\r\nand cr\rand lf\n",
    "Grüße, Zoë ✓\n",
    "x" * 998 + "\nshort\n",
    "x" * 999 + "\n",  # a line over 998 bytes: Django sends it quoted-printable
    "é" * 499 + "\n",  # 998 bytes of UTF-8
    "é" * 500 + "\n",  # 1,000 bytes
    "vertical\x0btab and line\u2028separator\n",
]
SENDERS = ["from@example.com", "Desk <desk@example.com>", "Zoë Müller <zoe@example.com>", '"Doe, Jane" <j@example.com>']
RECIPIENTS = [
    (["to@example.com"], [], []),
    (["Ann <ann@example.com>", "bob@example.com"], ["Çelik <celik@example.com>"], ["Help <help@example.com>"]),
    (["user@bücher.example"], [], []),
]
HEADERS = [
    {},
    {"X-Campaign": "winter", "List-Unsubscribe": "<https://example.com/u/1>"},
    {"From": "Other <other@example.com>", "To": "Shown <shown@example.com>"},
    {"to": "lower@example.com", "Reply-To": "r@example.com"},
    *([] if MODERN else [{"Subject": "a second subject", "Content-Type": "text/plain"}]),  # Django 6 refuses it
    {"X-Long": "a value long enough to be folded over more than one line by the header folding, " * 2},
    {"X-Accents": "déjà vu"},
    {"Date": "Tue, 1 Dec 2026 10:00:00 -0000", "Message-Id": "<mine@example.com>"},
]


def messages():
    """A few hundred messages: every subject, body and sender, with recipients and headers taken in turn."""
    combos = itertools.product(SUBJECTS, BODIES, SENDERS)
    for i, (subject, body, sender) in enumerate(combos):
        to, cc, reply_to = RECIPIENTS[i % len(RECIPIENTS)]
        headers = HEADERS[i % len(HEADERS)]
        yield EmailMessage(subject, body, sender, to, cc=cc, reply_to=reply_to, headers=headers)
    for subtype, encoding in [("html", "utf-8"), ("xml", "utf-8"), ("plain", "iso-8859-1"), ("plain", None)]:
        message = EmailMessage("Subtype", "<p>Grüße</p>\n", "f@example.com", ["t@example.com"])
        message.content_subtype, message.encoding = subtype, encoding
        yield message
    attached = EmailMessage("Attached", "x", "f@example.com", ["t@example.com"])
    attached.attach("a.txt", "text", "text/plain")
    yield attached


def stored_and_expected(message):
    """The data the request stores (through JSON, as the database keeps it), and what ``message()`` flattens to."""
    data = json.loads(json.dumps(composed.as_data(message, "X-Outbox-Sensitive")[0]))
    asked = copy.copy(message)
    asked.extra_headers = {**dict(data["headers"]), **message.extra_headers}
    return data, sent_by_django(asked)


def test_one_part_messages_are_written_as_message_flattens_them():
    written = 0
    for message in messages():
        data, expected = stored_and_expected(message)
        direct = one_part.render(data, composed._render_full)
        written += direct is not None

        assert composed.render(data) == expected, (message.subject, message.body, message.extra_headers)
        if direct is not None:
            assert direct == expected
    if MODERN:  # Django 6 writes messages on the modern email API: the direct path steps aside
        assert one_part._agrees is False and written == 0
    else:
        assert one_part._agrees is True
        assert written >= 250  # the direct path did most of them (not a test of the full path alone)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: setattr(m, "content_subtype", "xml"),
        lambda m: setattr(m, "encoding", "iso-8859-1"),
        lambda m: setattr(m, "body", "x" * 999),
        lambda m: m.attach("a.txt", "text", "text/plain"),
    ],
    ids=["subtype", "encoding", "long-line", "attachment"],
)
def test_what_is_not_one_utf8_text_part_is_left_to_the_full_path(change):
    message = EmailMessage("Left", "x", "f@example.com", ["t@example.com"])
    change(message)
    data, expected = stored_and_expected(message)

    assert one_part.render(data, composed._render_full) is None
    assert composed.render(data) == expected


def test_it_steps_aside_when_the_full_path_writes_otherwise(monkeypatch):
    # Another Django (or Python) that flattens one-part messages its own way: the first call finds out.
    monkeypatch.setattr(one_part, "_agrees", None)
    data, expected = stored_and_expected(EmailMessage("Hi", "x", "f@example.com", ["t@example.com"]))

    assert one_part.render(data, lambda d: b"written otherwise") is None
    assert one_part._agrees is False
    assert composed.render(data) == expected


def test_a_line_left_unfolded_is_what_compat32_folding_gives():
    # folding.unfolded() says which lines need no folding (written as they are, not folded by the library):
    # random printable ASCII of every length around the limit, spaces anywhere, names of several lengths.
    crlf = compat32.clone(linesep="\r\n")
    rng = random.Random(18)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " " * 12 + "\t"
    unfolded = 0
    for _ in range(20000):
        name = rng.choice(["Subject", "Message-ID", "X-A", "List-Unsubscribe", ""])
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        if name:
            assert folding.FOLDS_CRLF.fold_binary(name, value) == crlf.fold_binary(name, value), (name, value)
        if folding.unfolded(name, value, 78):
            unfolded += 1
            assert name or Header(value).encode() == value  # a subject message() leaves as it is
    assert unfolded > 5000


def test_a_check_that_cannot_run_leaves_every_message_to_the_full_path(monkeypatch):
    monkeypatch.setattr(one_part, "_agrees", None)
    data, expected = stored_and_expected(EmailMessage("Hi", "x", "f@example.com", ["t@example.com"]))

    def broken(data):
        raise LookupError("no such codec")

    assert one_part.render(data, broken) is None
    assert one_part._agrees is False
    assert composed.render(data) == expected

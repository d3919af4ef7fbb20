"""MIME bytes of a one-part text message, written from its stored fields without building the MIME objects.

Most e-mail is one text part: no attachments, no alternatives, UTF-8. For such a message ``composed.render``
would build Django's ``SafeMIMEText`` (parsing and re-writing its Content-Type parameters on the way) and
flatten it with a generator; here the same bytes are written directly, through the functions that path calls
for everything that varies: Django's ``forbid_multi_line_headers`` for each header value, and the standard
library's compat32 folding for each header line. What is left is fixed by the standard library's MIMEText: the
three MIME headers first, 7bit or 8bit, the body with CRLF line ends.

The first call checks a few messages against the full path; if another Django (or Python) writes them otherwise,
this steps aside for good and every message goes the full way. ``tests/test_one_part.py`` compares the two over
many messages.
"""

import logging
import re
import threading

from django.conf import settings
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers

from notifications.folding import FOLDS_CRLF, unfolded

logger = logging.getLogger(__name__)

_NEWLINE = re.compile(r"\r\n|\r|\n")  # what the generator splits a body's lines on (email.generator.NLCRE)
_SUBTYPES = {"plain", "html"}
_SET_FIRST = {"from", "to", "cc", "reply-to"}  # EmailMessage.message() writes these from its fields


def render(data, full):
    """The message's bytes, or None when it is not a one-part UTF-8 text message (render it the full way).

    ``full(data)``: the full path's bytes, which the first call compares this path with.
    """
    if _agrees is None:
        _check(full)
    return _write(data) if _agrees else None


def _write(data):
    if not _one_part(data):
        return None
    body = data["body"]
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return None  # the full path says why
    if any(len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in body.splitlines()):
        return None  # Django sends it quoted-printable
    headers = _headers(data)
    if headers is None:
        return None
    cte = "7bit" if body.isascii() else "8bit"
    lines = [
        FOLDS_CRLF.fold_binary("Content-Type", f'text/{data["subtypes"][0]}; charset="utf-8"'),
        FOLDS_CRLF.fold_binary("MIME-Version", "1.0"),
        FOLDS_CRLF.fold_binary("Content-Transfer-Encoding", cte),
    ]
    lines += [FOLDS_CRLF.fold_binary(*_checked(name, value)) for name, value in headers]
    return b"".join(lines) + b"\r\n" + _NEWLINE.sub("\r\n", body).encode("utf-8")


def _checked(name, value):
    """``forbid_multi_line_headers``: a header value as ``message()`` sets it (refused if it would inject lines).

    A subject it re-encodes with ``Header(value).encode()``, which leaves a short printable ASCII one as it is.
    """
    if name == "Subject" and unfolded("", value, 78):  # at most 76 characters
        return name, value
    return forbid_multi_line_headers(name, value, "utf-8")


def _one_part(data):
    return (
        not data["attachments"]
        and not data["alternatives"]
        and data["encoding"] == "utf-8"
        and data["subtypes"][0] in _SUBTYPES
    )


def _headers(data):
    """``(name, value)`` in the order ``EmailMessage.message()`` sets them; None without a stored Date and Message-ID
    (the full path would make them up)."""
    extra = dict(data["headers"])
    names = {name.lower() for name in extra}
    if "date" not in names or "message-id" not in names:
        return None
    headers = [
        ("Subject", data["subject"]),
        ("From", extra.get("From", data["from_email"] or settings.DEFAULT_FROM_EMAIL)),
    ]
    for name, values in (("To", data["to"]), ("Cc", data["cc"]), ("Reply-To", data["reply_to"])):
        if name in extra:
            headers.append((name, extra[name]))
        elif values:
            headers.append((name, ", ".join(values)))
    return headers + [(name, value) for name, value in extra.items() if name.lower() not in _SET_FIRST]


_agrees = None  # unknown until the first message; then whether this path writes what the full path writes
_checking = threading.Lock()


def _check(full):
    """Once: compare this path with ``full(data)`` over a few messages; keep it only if every one agrees."""
    global _agrees
    with _checking:
        if _agrees is None:
            samples = [_sample(), _sample(subject="Grüße — " * 12, body="Zoë\r\nline\rtwo\n", name="Zoë Müller")]
            try:
                agrees = all(_write(data) == full(data) for data in samples)
            except Exception:  # noqa: BLE001 - a check that cannot run must not fail a send: render in full
                logger.exception("one-part messages: the check against the full path failed; each is rendered in full")
                agrees = False
            else:
                if not agrees:
                    logger.info("one-part messages: this Django writes them its own way; each is rendered in full")
            _agrees = agrees


def _sample(subject="A subject", body="Hello,\n\nA body.\n", name="Desk"):
    return {
        "subject": subject,
        "body": body,
        "from_email": f"{name} <desk@example.com>",
        "to": ["Ann <ann@example.com>", "bob@example.com"],
        "cc": [],
        "reply_to": ["help@example.com"],
        "headers": [("Date", "Tue, 01 Dec 2026 10:00:00 -0000"), ("Message-ID", "<1.2.3@example.com>"), ("X-A", "b")],
        "encoding": "utf-8",
        "subtypes": ["plain", "mixed", None],
        "attachments": [],
        "alternatives": [],
    }

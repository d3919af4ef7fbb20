"""An e-mail kept as data (its fields as JSON) in the request, rendered to MIME bytes in the consumer.

Flattening MIME was about a third of what ``send_mail()`` cost a request. The request now stores
what Django's ``EmailMessage.message()`` reads (subject, body, addresses, headers in order,
alternatives, attachments, encoding and subtypes) with the two things it would make up on the
spot, ``Date`` and ``Message-ID``, fixed at request time. The consumer builds the same message
from those fields and flattens it, so what is sent is what was asked: the same headers, parts
and bytes, with boundaries derived from the Message-ID instead of drawn at random
(``tests/test_composed.py`` compares the two byte for byte). Plain JSON survives any change to
our classes; a message Django could not rebuild from fields alone (a custom ``message()``, a
MIME object attached as is) is still rendered in the request and stored as bytes.
"""

import base64
import hashlib
from email.generator import BytesGenerator
from email.policy import Compat32
from email.utils import formatdate, make_msgid
from io import BytesIO

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.message import DNS_NAME, BadHeaderError, EmailAlternative, EmailAttachment

from notifications import folding, one_part

VERSION = 1
_PLAIN_CLASSES = (EmailMessage, EmailMultiAlternatives)


def as_data(message, drop_header):
    """``(data, had_header)``: ``message``'s fields as JSON-ready data without ``drop_header``; None if it cannot be.

    Raises ``BadHeaderError`` for a subject or header that would inject lines, as ``message()`` would.
    """
    if type(message) not in _PLAIN_CLASSES or not isinstance(message.body, str):
        return None, False
    encoding = message.encoding or settings.DEFAULT_CHARSET
    if not isinstance(encoding, str):
        return None, False
    parts = _parts(message)
    if parts is None:
        return None, False
    headers = [(str(k), str(v)) for k, v in message.extra_headers.items()]
    had_header = any(k.lower() == drop_header.lower() for k, _ in headers)
    headers = [(k, v) for k, v in headers if k.lower() != drop_header.lower()]
    subject = str(message.subject)
    for value in (subject, *(v for _, v in headers)):
        if "\n" in value or "\r" in value:
            raise BadHeaderError(f"Header values can't contain newlines (got {value!r})")
    names = {k.lower() for k, _ in headers}
    fixed = [] if "date" in names else [("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME))]
    fixed += [] if "message-id" in names else [("Message-ID", make_msgid(domain=DNS_NAME))]
    return {
        "v": VERSION,
        "subject": subject,
        "body": message.body,
        "from_email": str(message.from_email),
        "to": [str(a) for a in message.to],
        "cc": [str(a) for a in message.cc],
        "reply_to": [str(a) for a in message.reply_to],
        "headers": fixed + headers,
        "encoding": encoding,
        "subtypes": [message.content_subtype, message.mixed_subtype, getattr(message, "alternative_subtype", None)],
        **parts,
    }, had_header


def _parts(message):
    attachments = []
    for item in message.attachments:
        if not isinstance(item, tuple) or not isinstance(item[1], (str, bytes)):
            return None  # a MIME object or an attached EmailMessage: only the request can flatten it
        filename, content, mimetype = item
        attachments.append([filename, mimetype, *_content(content)])
    alternatives = []
    for content, mimetype in getattr(message, "alternatives", ()):
        if not isinstance(content, (str, bytes)):
            return None
        alternatives.append([mimetype, *_content(content)])
    return {"attachments": attachments, "alternatives": alternatives}


def _content(content):
    if isinstance(content, str):
        return ["text", content]
    return ["base64", base64.b64encode(content).decode("ascii")]


def _decoded(kind, value):
    return value if kind == "text" else base64.b64decode(value)


def render(data):
    """The MIME bytes (CRLF line ends) of a message stored by ``as_data``."""
    written = one_part.render(data, _render_full)  # most e-mail: one text part
    return written if written is not None else _render_full(data)


def _render_full(data):
    message = EmailMultiAlternatives(
        subject=data["subject"],
        body=data["body"],
        from_email=data["from_email"],
        to=data["to"],
        cc=data["cc"],
        reply_to=data["reply_to"],
        headers=dict(data["headers"]),
    )
    message.encoding = data["encoding"]
    message.content_subtype, message.mixed_subtype, alternative = data["subtypes"]
    if alternative:
        message.alternative_subtype = alternative
    message.attachments = [EmailAttachment(f, _decoded(k, c), m) for f, m, k, c in data["attachments"]]
    message.alternatives = [EmailAlternative(_decoded(k, c), m) for m, k, c in data["alternatives"]]
    mime = message.message()
    fix_boundaries(mime, mime["Message-ID"] or "")
    if type(mime.policy) is not Compat32:  # what Django builds today; another policy folds its own way
        return mime.as_bytes(linesep="\r\n")
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=folding.FOLDS_KEPT).flatten(mime, linesep="\r\n")
    return out.getvalue()  # what ``mime.as_bytes(linesep="\r\n")`` gives, byte for byte


def fix_boundaries(mime, seed):
    """Give each multipart of ``mime`` a boundary derived from ``seed``, so rendering twice gives the same bytes.

    The form is the standard library's (fifteen ``=``, 19 digits, ``==``); only the digits stop being random.
    """
    for index, part in enumerate(p for p in mime.walk() if p.is_multipart()):
        digits = int.from_bytes(hashlib.sha256(f"{seed}/{index}".encode()).digest()[:8], "big") % 10**19
        part.set_boundary("=" * 15 + f"{digits:019d}" + "==")

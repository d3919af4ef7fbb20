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
import email.policy
import hashlib
import inspect
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
# Django 6 builds a message on the modern email API with the policy it is given (its SMTP backend passes
# email.policy.SMTP); Django 5.2 builds a compat32 one and flattens it with CRLF line ends.
_TAKES_POLICY = "policy" in inspect.signature(EmailMessage.message).parameters
# Extra headers Django 6's message() refuses: a second of what it sets itself, and Bcc (an envelope matter)
_REFUSED_BY_DJANGO_6 = {"subject", "content-type", "mime-version", "content-transfer-encoding", "bcc"}


def as_data(message, drop_header):
    """``(data, had_header)``: ``message``'s fields as JSON-ready data without ``drop_header``; None if it cannot be.

    Raises ``BadHeaderError`` for a subject or header that would inject lines, as ``message()`` would.
    """
    if type(message) not in _PLAIN_CLASSES or not isinstance(message.body, str):
        return None, False
    if _TAKES_POLICY and _refused_by_django_6(message):
        return None, False  # rendered in the request, where Django says why, as its own backends would
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
        "subtypes": [
            message.content_subtype,
            getattr(message, "mixed_subtype", "mixed"),  # Django 5.2's; Django 6 has none
            getattr(message, "alternative_subtype", None),
        ],
        **parts,
    }, had_header


def _refused_by_django_6(message):
    """Django 6 refuses, when it builds the message, a subtype attribute it no longer has, a second header of a
    kind the modern email API allows once (``Subject`` among the extra headers) and a ``Bcc`` header."""
    if hasattr(message, "mixed_subtype") or hasattr(message, "alternative_subtype"):
        return True
    return any(str(name).lower() in _REFUSED_BY_DJANGO_6 for name in message.extra_headers)


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
    message.content_subtype, mixed, alternative = data["subtypes"]
    if mixed not in (None, "mixed"):  # Django 6 refuses the attribute; 5.2's default is "mixed"
        message.mixed_subtype = mixed
    if alternative not in (None, "alternative"):
        message.alternative_subtype = alternative
    message.attachments = [EmailAttachment(f, _decoded(k, c), m) for f, m, k, c in data["attachments"]]
    message.alternatives = [EmailAlternative(_decoded(k, c), m) for m, k, c in data["alternatives"]]
    mime = mime_of(message)
    fix_boundaries(mime, mime["Message-ID"] or "")
    return flattened(mime)


def mime_of(message):
    """``message``'s MIME object as Django's SMTP backend builds it to send."""
    return message.message(policy=email.policy.SMTP) if _TAKES_POLICY else message.message()


def flattened(mime):
    """``mime``'s bytes with CRLF line ends, as Django's SMTP backend sends them."""
    if type(mime.policy) is not Compat32:  # Django 6: the modern API, folded by its own policy
        return mime.as_bytes(policy=mime.policy.clone(linesep="\r\n"))
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=folding.FOLDS_KEPT).flatten(mime, linesep="\r\n")
    return out.getvalue()  # what Django 5.2's ``mime.as_bytes(linesep="\r\n")`` gives, byte for byte


def fix_boundaries(mime, seed):
    """Give each multipart of ``mime`` a boundary derived from ``seed``, so rendering twice gives the same bytes.

    The form is the standard library's (fifteen ``=``, 19 digits, ``==``); only the digits stop being random.
    """
    for index, part in enumerate(p for p in mime.walk() if p.is_multipart()):
        digits = int.from_bytes(hashlib.sha256(f"{seed}/{index}".encode()).digest()[:8], "big") % 10**19
        part.set_boundary("=" * 15 + f"{digits:019d}" + "==")

"""What Django's own SMTP backend sends for a message: the oracle the outbox's rendering is compared with."""

import email.policy

import django

from notifications import composed

MODERN = django.VERSION >= (6, 0)  # Django 6 builds messages on the modern email API


def sent_by_django(message):
    """``message``'s bytes as Django's SMTP backend flattens them (``_send``), its multipart boundaries derived
    from its Message-ID as the consumer derives them (Django draws them at random)."""
    mime = message.message(policy=email.policy.SMTP) if MODERN else message.message()
    composed.fix_boundaries(mime, mime["Message-ID"])
    return mime.as_bytes() if MODERN else mime.as_bytes(linesep="\r\n")

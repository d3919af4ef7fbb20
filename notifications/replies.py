"""What the relay's answer means: permanent or not, who was rejected, and whether it asked to slow down.

The transport (``notifications.transport``) raises smtplib's exceptions with the relay's own code and
words; these functions read them for the delivery batch (``notifications.batch``).
"""

import smtplib

SLOWED_DOWN = "relay asked to slow down"
# What relays say when they throttle a sender (lower case), beyond 421/451 with an enhanced code 4.7.x:
# Postfix anvil "450 4.7.1 Error: too much mail from ...", Exchange/Office 365 "451 4.7.500 Server busy",
# Gmail "421 4.7.28 ... rate limited" / "450 4.7.28", SES "454 Throttling failure: Maximum sending rate exceeded".
_SLOW_DOWN_WORDS = ("too many", "too much mail", "rate limit", "rate-limit", "throttl", "server busy", "sending rate")


def text_of(resp):
    """The relay's reply as text (smtplib hands bytes)."""
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def classify(exc):
    """Return ``(permanent, text)`` for a failed send."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {text_of(resp)}" for addr, (code, resp) in exc.recipients.items())
        return all(500 <= c < 600 for c in codes), text
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return 500 <= exc.smtp_code < 600, f"{exc.smtp_code} {text_of(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return False, f"{exc.smtp_code} {text_of(exc.smtp_error)}"
    return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def connection_lost(exc):
    """True when the SMTP session cannot go on (the relay hung up, timed out or said 421)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return True


def rejected(exc):
    """``{address: reply}`` of recipients refused permanently (5xx at RCPT TO)."""
    if not isinstance(exc, smtplib.SMTPRecipientsRefused):
        return {}
    return refused_permanently(exc.recipients)


def refused_permanently(refused):
    """``{address: "code reply"}`` of the 5xx answers in ``refused`` (``{address: (code, reply)}``)."""
    return {a: f"{c} {text_of(r)}" for a, (c, r) in refused.items() if 500 <= c < 600}


def reply_of(exc):
    """``(code, text)`` for the attempt row: the relay's code where it gave one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return next(iter(exc.recipients.values()))[0], classify(exc)[1]
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, text_of(exc.smtp_error)
    return None, classify(exc)[1]


def slow_down(exc):
    """True for a relay's "slow down": a 4xx answer that says the sender goes too fast."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
    elif isinstance(exc, smtplib.SMTPResponseException):
        answers = [(exc.smtp_code, exc.smtp_error)]
    else:
        return False
    for code, resp in answers:
        text = text_of(resp).lower()
        if not 400 <= code < 500:
            continue
        if (code in (421, 451) and text.startswith("4.7.")) or any(w in text for w in _SLOW_DOWN_WORDS):
            return True
    return False

"""Sign-up (with a confirmed address) and the home page."""

import logging

from django.contrib.auth import login
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.emails import send_already_signed_up, send_confirmation, send_welcome
from accounts.forms import SignupForm
from accounts.tokens import confirmation_token
from notifications.models import Message, addressed_to
from operations.signals import site_event
from throttle.limits import client, limited, posted

logger = logging.getLogger(__name__)


def home(request):
    """The home page; a signed-in user sees their recent e-mails and where each stands."""
    emails = []
    if request.user.is_authenticated and request.user.email:
        emails = Message.objects.filter(recipients__icontains=request.user.email).only(
            "subject", "status", "created_at", "sent_at", "last_error", "due_at", "recipients", "reason", "attempts"
        )[:10]
        emails = [m for m in emails if addressed_to(m.recipients, request.user.email)]
    return render(request, "accounts/home.html", {"emails": emails})


def pending(email):
    """Sign-ups waiting for ``email`` to be confirmed: inactive accounts never logged in to."""
    return User.objects.filter(email__iexact=email, is_active=False, last_login=None)


@sensitive_post_parameters("password1", "password2")
@limited("signup", client=client, address=posted("email"))
def signup(request):
    """Open an inactive account and e-mail a link to confirm the address; answer "check your e-mail".

    An address that already has an account gets "someone tried to sign up with your address" instead,
    behind the same answer after the same work (a password hashed, one e-mail queued): the page never
    says whether an address is known. A taken username is still a form error (usernames are public).
    A sign-up waiting for its address to be confirmed does not count, and is not touched either: each
    sign-up is its own account with its own link, the first confirmed opens and the others go
    (the unique index on the address covers confirmed accounts only: accounts.0002).
    """
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # Whoever typed someone else's address first cannot keep its owner out, and whoever types it next
        # cannot swap their password in under the owner's waiting sign-up.
        if User.objects.filter(email__iexact=email).exclude(pk__in=pending(email)).exists():
            return _already_signed_up(form, request)
        try:
            with transaction.atomic():
                user = form.save(commit=False)
                user.is_active = False  # until the address is confirmed
                user.save()
                send_confirmation(user, request)
        except IntegrityError:
            # A simultaneous sign-up took the username or the address between the check and the INSERT:
            # the database's unique indexes refused this one. Checking again finds which.
            logger.info("sign-up refused by a unique index (a simultaneous sign-up with the same details)")
            form = SignupForm(request.POST)
            if form.is_valid():
                return _already_signed_up(form, request, hashed=True)
        else:
            logger.info("user %s signed up; confirmation e-mail queued", user.pk)
            return redirect("signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if request.method == "POST" else 200)


def _already_signed_up(form, request, hashed=False):
    if not hashed:
        make_password(form.cleaned_data["password1"])  # the work a new account costs, so the time says nothing
    send_already_signed_up(form.cleaned_data["email"], request)
    logger.info("sign-up with an address that has an account; its owner was told by e-mail")
    return redirect("signup_sent")


def signup_sent(request):
    """The one answer to every accepted sign-up form."""
    return render(request, "accounts/signup_sent.html")


@require_http_methods(["GET", "POST"])
def confirm(request, uidb64, token):
    """The link of the confirmation e-mail: GET shows a button (mail scanners follow links), POST opens the account."""
    user = _user_for(uidb64, token)
    if user is None:
        return render(request, "accounts/confirm.html", {"valid": False}, status=400)
    if request.method == "GET":
        return render(request, "accounts/confirm.html", {"valid": True, "account": user})
    try:
        with transaction.atomic():
            # The other sign-ups that waited for this address go: the address is this account's now.
            dropped = pending(user.email).exclude(pk=user.pk).delete()[1].get(User._meta.label, 0)
            # A conditional UPDATE: of two simultaneous POSTs of one link (or of two links), one opens an account.
            if not pending(user.email).filter(pk=user.pk).update(is_active=True):
                raise IntegrityError("confirmed or dropped in between")
            user.is_active = True
            send_welcome(user, request)
            site_event.send(
                sender=__name__,
                type="user.signed_up",
                data={"user_id": user.pk, "username": user.get_username()},
                summary=f"New user signed up: {user.get_username()}",
            )
    except IntegrityError:  # confirmed or dropped in between, or the address has another account now
        logger.info("user %s: confirmation refused, the sign-up was settled in between", user.pk)
        return render(request, "accounts/confirm.html", {"valid": False}, status=400)
    if dropped:
        logger.info("user %s confirmed: %s other sign-up(s) with the same address dropped", user.pk, dropped)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    logger.info("user %s confirmed their address; welcome e-mail queued", user.pk)
    return redirect("home")


def _user_for(uidb64, token):
    """The waiting sign-up the link was made for, if its token is still good; else ``None``.

    Only an account never opened qualifies: one that was ever logged in to and is inactive now was
    deactivated by staff, and stays so whatever link is posted here.
    """
    try:
        user = User.objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()), is_active=False, last_login=None)
    except (ValueError, OverflowError, User.DoesNotExist):
        return None
    return user if confirmation_token.check_token(user, token) else None

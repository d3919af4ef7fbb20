"""Sign-up and the home page."""

import logging

from django.contrib.auth import login
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render

from accounts.emails import send_welcome
from accounts.forms import SignupForm
from notifications.models import Message, addressed_to

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


def signup(request):
    """Create the user, sign them in, queue the welcome e-mail and redirect at once."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                send_welcome(user, request)
        except IntegrityError:
            # A simultaneous sign-up took the username or address between the form's check and the INSERT:
            # the database's unique indexes refused this one. Checking again gives the form its error.
            logger.info("sign-up refused by a unique index (a simultaneous sign-up with the same details)")
            form = SignupForm(request.POST)
            form.is_valid()
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            logger.info("user %s signed up; welcome e-mail queued", user.pk)
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if request.method == "POST" else 200)

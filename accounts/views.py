"""Sign-up and the home page."""

import logging

from django.contrib.auth import login
from django.db import transaction
from django.shortcuts import redirect, render

from accounts.emails import send_welcome
from accounts.forms import SignupForm
from notifications.models import Message
from throttle.limits import client, limited, posted

logger = logging.getLogger(__name__)


def home(request):
    """The home page; a signed-in user sees their recent e-mails and where each stands."""
    emails = []
    if request.user.is_authenticated and request.user.email:
        emails = Message.objects.filter(recipients__icontains=request.user.email).only(
            "subject", "status", "created_at", "sent_at", "last_error", "due_at", "recipients", "reason", "attempts"
        )[:10]
        emails = [m for m in emails if request.user.email.lower() in (r.lower() for r in m.recipients)]
    return render(request, "accounts/home.html", {"emails": emails})


@limited("signup", client=client, address=posted("email"))
def signup(request):
    """Create the user, sign them in, queue the welcome e-mail and redirect at once."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            send_welcome(user, request)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        logger.info("user %s signed up; welcome e-mail queued", user.pk)
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if request.method == "POST" else 200)

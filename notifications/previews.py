"""E-mail previews for the development mail page: every e-mail the project sends, built with example data.

Each app lists its own e-mails in its ``emails.py``: ``@previews.register("Welcome")`` on a function
taking no argument and returning the ``EmailMessage`` the app would send (built by the same code, fed
unsaved example objects). Nothing is saved and nothing is sent.
"""

from django.utils.module_loading import autodiscover_modules
from django.utils.text import slugify

_previews = {}


def register(title):
    """Decorator: list ``func() -> EmailMessage`` on the preview page as ``title``."""

    def add(func):
        _previews[slugify(title)] = (title, func)
        return func

    return add


def all_previews():
    """``{slug: (title, func)}`` of every app's e-mails (importing each app's ``emails`` module once)."""
    autodiscover_modules("emails")
    return dict(sorted(_previews.items(), key=lambda item: item[1][0]))

"""Report types: each module in ``reports/types/`` registers one with ``@register``.

A type says what it is called, which parameters it takes (a Django form), which
columns it has, and yields its rows; it may also say how many rows to expect, so
the progress bar can move. A type also says who may run it (``permission``, ``own_scope``):
the view offers it only to them and the consumer checks again before generating. See docs/reports.md.
"""

import importlib
import json
import pkgutil
from collections.abc import Iterable, Sequence

from django import forms
from django.core.serializers.json import DjangoJSONEncoder

_types = {}

# A type whose ``count`` is in steps rather than rows yields STEP to say "one step done".
STEP = object()

# Who a report covers: everyone's data, or only its owner's (stored in the report's params as "scope").
ALL = "all"
OWN = "own"


class NotAllowed(Exception):
    """The owner may not run this report (any more): the message says why, for the owner to read."""


class ReportType:
    """Subclass, set the attributes, implement ``rows`` (and ``count`` when it is cheap), decorate with ``@register``."""

    slug: str = ""
    name: str = ""
    description: str = ""
    form_class: type[forms.Form] = forms.Form
    columns: Sequence[str] = ()
    #: "rows": ``count`` is the number of rows. "steps": ``count`` is a number of steps, and
    #: ``rows`` yields ``STEP`` after each (for types whose row count is unknown until the end).
    progress_by: str = "rows"
    #: The permission (``app_label.codename``) needed to run the type over everyone's data; "" = any signed-in user.
    permission: str = ""
    #: With ``permission`` set: whether a user without it may still run the type over their own data only.
    #: ``rows`` and ``count`` then find the owner in ``params["owner"]``.
    own_scope: bool = False

    def scope(self, user):
        """``ALL`` or ``OWN`` for what ``user`` may run this type over, or ``None`` if they may not run it."""
        if not self.permission or user.has_perm(self.permission):
            return ALL
        return OWN if self.own_scope else None

    def check(self, owner, scope):
        """Raise ``NotAllowed`` unless ``owner`` may (still) run this type over ``scope``."""
        allowed = self.scope(owner) if owner.is_active else None
        if allowed is None or (scope == ALL and allowed != ALL):
            raise NotAllowed(
                f"You are not allowed to run the “{self.name}” report"
                + (" over everyone's data" if allowed == OWN else "")
                + " (any more): ask the site's staff for the permission."
            )

    def rows(self, params: dict) -> Iterable[Sequence]:
        """Yield one sequence of cell values per row, in ``columns`` order. Stream: never build a list."""
        raise NotImplementedError

    def count(self, params: dict) -> int | None:
        """How many rows (or steps) ``rows`` will yield, or ``None`` if unknown (progress then moves at the end)."""
        return None

    def filename(self, params: dict) -> str:
        """The download's file name, without extension."""
        values = [params.get(name) for name in self.form_class.base_fields]  # in the form's order: from, to
        return "_".join([self.slug] + [str(v) for v in values if v not in (None, "")])

    def describe(self, params: dict) -> list[tuple[str, object]]:
        """``(label, value)`` of each parameter, in the form's order, for pages and e-mails."""
        return [(str(f.label or name), params.get(name)) for name, f in self.form_class.base_fields.items()]

    def form(self, data=None, **kwargs):
        return self.form_class(data, prefix=self.slug, **kwargs)

    def clean_params(self, params: dict) -> dict:
        """Validate stored ``params`` again (in the consumer) and return the form's cleaned data."""
        form = self.form_class(params)
        if not form.is_valid():
            raise ValueError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return form.cleaned_data


def to_params(cleaned_data):
    """Cleaned form data as plain JSON values (dates become ISO strings), to store on the report."""
    return json.loads(json.dumps(cleaned_data, cls=DjangoJSONEncoder, sort_keys=True))


def register(cls):
    """Class decorator: make ``cls`` available under its slug."""
    if not cls.slug or not cls.name:
        raise ValueError(f"{cls.__name__}: a report type needs a slug and a name")
    if cls.slug in _types and type(_types[cls.slug]) is not cls:
        raise ValueError(f"report type slug {cls.slug!r} is taken by {type(_types[cls.slug]).__name__}")
    _types[cls.slug] = cls()
    return cls


def get(slug):
    """The registered type for ``slug``, or ``None``."""
    return _types.get(slug)


def all_types():
    """Every registered type, by name."""
    return sorted(_types.values(), key=lambda t: t.name)


def autodiscover():
    """Import every module of ``reports.types`` so each registers itself."""
    from reports import types

    for module in pkgutil.iter_modules(types.__path__):
        importlib.import_module(f"{types.__name__}.{module.name}")

"""What the apps tell operations: cleanup sources, health probes, dashboard panels, metrics sources, e-mail previews.

Operations is a lower layer: it never imports an app's internals. Each app registers
what it has in its ``AppConfig.ready()`` (see ``notifications/operations.py``), and the
daily cleanup, ``/health/`` and the operations page ask this registry.
"""

from dataclasses import dataclass

_cleanup = {}  # name -> callable(now) -> {label: queryset | callable(dry_run=False) -> count}
_probes = {}  # name -> callable(now) -> {"ok": bool, ...}
_panels = {}  # name -> Panel
_series = {}  # name -> callable(start, end) -> [(hour as aware datetime, count)]
_previews = {}  # slug -> (title, callable() -> EmailMessage), for the development mail page
_metrics = []  # callable(now) -> iterable of prometheus_client metric families, for GET /metrics


@dataclass(frozen=True)
class Panel:
    """A section of the operations page: its name (the page's context key), what it shows, and how.

    With a ``template`` (the app's own), the page includes it among the apps' panels with the panel's
    data as ``panel``; without one, the page's own markup shows the data under ``name``.
    """

    name: str
    context: object  # callable(now) -> what the page shows under ``name``
    order: int = 50
    template: str = ""


def cleanup_source(name):
    """Register ``f(now) -> {label: source}``: what the daily cleanup may delete for an app."""

    def decorator(fn):
        _cleanup[name] = fn
        return fn

    return decorator


def health_probe(name):
    """Register ``f(now) -> {"ok": bool, "error": ...}`` as the ``/health/`` check ``name``."""

    def decorator(fn):
        _probes[name] = fn
        return fn

    return decorator


def dashboard_panel(name, order=50, template=""):
    """Register ``f(now)`` as the operations page panel ``name`` (drawn with the app's ``template``, if given)."""

    def decorator(fn):
        _panels[name] = Panel(name, fn, order, template)
        return fn

    return decorator


def hourly_series(name):
    """Register ``f(start, end) -> [(hour, count)]``: a bar series of the page's per-hour chart."""

    def decorator(fn):
        _series[name] = fn
        return fn

    return decorator


def metrics_source(fn):
    """Register ``fn(now) -> metric families`` with what every ``/metrics`` scrape reports (a decorator)."""
    if fn not in _metrics:
        _metrics.append(fn)
    return fn


def email_preview(title):
    """Register ``func() -> EmailMessage`` (built by the app's own code from unsaved example objects) as the
    development mail page's preview ``title``. Each app lists its e-mails in its ``emails.py``."""
    from django.utils.text import slugify

    def decorator(fn):
        _previews[slugify(title)] = (title, fn)
        return fn

    return decorator


def cleanup_sources(now):
    """Every app's prunable sources, by label."""
    sources = {}
    for fn in _cleanup.values():
        sources.update(fn(now))
    return sources


def health_probes():
    """``{name: f(now)}`` in registration order."""
    return dict(_probes)


def dashboard_panels():
    """The registered panels, in page order."""
    return sorted(_panels.values(), key=lambda p: (p.order, p.name))


def chart_series():
    """``{name: f(start, end)}`` of the per-hour chart's series."""
    return dict(_series)


def metrics_sources():
    """The ``/metrics`` sources, in registration order."""
    return list(_metrics)


def email_previews():
    """``{slug: (title, func)}`` of every app's e-mails (importing each app's ``emails`` module once)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("emails")
    return dict(sorted(_previews.items(), key=lambda item: item[1][0]))

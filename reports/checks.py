"""System checks: misconfiguration shows at start-up with a hint, not in the middle of a report."""

import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_reports_root(app_configs=None, **kwargs):
    root = Path(settings.REPORTS_ROOT)
    problems = []
    if not root.is_absolute():
        problems.append(
            Error(
                "REPORTS_ROOT must be an absolute path.", hint="Set REPORTS_ROOT=/srv/mysite/var/...", id="reports.E001"
            )
        )
    existing = next((p for p in [root, *root.parents] if p.exists()), None)
    if existing is not None and not (existing.is_dir() and os.access(existing, os.W_OK)):
        problems.append(
            Error(
                f"REPORTS_ROOT {root} cannot be written: {existing} is not a directory this user may write to.",
                hint="Give the site's user write access, or point REPORTS_ROOT elsewhere.",
                id="reports.E002",
            )
        )
    static_root = getattr(settings, "STATIC_ROOT", None)
    if static_root and root.resolve().is_relative_to(Path(static_root).resolve()):
        problems.append(
            Warning(
                "REPORTS_ROOT is inside STATIC_ROOT, which the web server serves to anyone.",
                hint="Move REPORTS_ROOT outside STATIC_ROOT.",
                id="reports.W001",
            )
        )
    if settings.REPORTS_MAX_RUNNING < 1:
        problems.append(
            Error(
                f"REPORTS_MAX_RUNNING={settings.REPORTS_MAX_RUNNING} lets no report run.",
                hint='It is the running cap of the durable task group "reports": use 1 or more (default 2).',
                id="reports.E003",
            )
        )
    return problems

"""Signals operations sends, for apps that react to what it sees (it imports none of them)."""

from django.dispatch import Signal

# /health/ changed status ("ok" or "fail"); kwargs: status, checks (each probe's result by name).
health_changed = Signal()

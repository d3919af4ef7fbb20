"""The registry: types register themselves from their module; mistakes are caught at once."""

import pytest

from reports import registry
from reports.registry import ReportType, register


def test_every_shipped_type_is_discovered():
    assert [t.slug for t in registry.all_types()] == ["email-delivery", "email-log", "signups-per-day"]
    assert registry.get("nope") is None


def test_a_type_needs_a_slug_and_a_name():
    with pytest.raises(ValueError, match="needs a slug and a name"):

        @register
        class Nameless(ReportType):
            slug = "nameless"


def test_a_slug_cannot_be_taken_twice():
    with pytest.raises(ValueError, match="taken by SignupsPerDay"):

        @register
        class Again(ReportType):
            slug = "signups-per-day"
            name = "Again"


def test_stored_params_are_validated_again():
    signups = registry.get("signups-per-day")

    assert signups.clean_params({"start": "2026-03-01", "end": "2026-03-02"})["end"].day == 2
    with pytest.raises(ValueError, match="end"):
        signups.clean_params({"start": "2026-03-05", "end": "2026-03-01"})


def test_the_file_name_follows_the_form():
    assert registry.get("email-log").filename({"end": "2026-03-02", "start": "2026-03-01"}) == (
        "email-log_2026-03-01_2026-03-02"
    )

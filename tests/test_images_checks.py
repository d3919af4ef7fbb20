"""The images settings' system checks, each with its own test."""

import pytest

from images.checks import check_settings


def ids(settings):
    return [e.id for e in check_settings()]


def test_it_passes_the_defaults(settings):
    assert ids(settings) == []


def test_it_refuses_an_output_format_we_do_not_write(settings):
    settings.IMAGES_FORMAT = "avif"
    assert ids(settings) == ["images.E001"]


def test_it_refuses_sizes_out_of_range(settings):
    settings.IMAGES_SIZES = [64, 10_000]
    assert ids(settings) == ["images.E002"]


@pytest.mark.parametrize("name", ["IMAGES_MAX_PIXELS", "IMAGES_MAX_DECODE_BYTES"])
def test_it_refuses_limits_below_one(settings, name):
    setattr(settings, name, 0)
    assert ids(settings) == ["images.E003"]


def test_it_warns_when_pictures_may_take_every_worker(settings):
    settings.DURABLE_GROUP_LIMITS = {"cpu": 4}
    settings.HUEY = {**settings.HUEY, "consumer": {**settings.HUEY["consumer"], "workers": 4}}
    assert ids(settings) == ["images.W001"]

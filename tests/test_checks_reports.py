"""System checks for reports: each misconfiguration has its id and hint."""

from reports.checks import check_reports_root


def ids(settings):
    return [p.id for p in check_reports_root()]


def test_the_default_configuration_passes(settings):
    assert ids(settings) == []


def test_a_relative_root_is_an_error(settings):
    settings.REPORTS_ROOT = "var/reports"
    assert "reports.E001" in ids(settings)


def test_a_root_that_cannot_be_a_directory_is_an_error(settings, tmp_path):
    (tmp_path / "a-file").write_text("x")
    settings.REPORTS_ROOT = str(tmp_path / "a-file" / "reports")
    assert ids(settings) == ["reports.E002"]


def test_a_root_inside_static_root_is_a_warning(settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.REPORTS_ROOT = str(tmp_path / "static" / "reports")
    assert ids(settings) == ["reports.W001"]


def test_a_running_cap_of_zero_reports_is_an_error(settings):
    settings.REPORTS_MAX_RUNNING = 0
    assert ids(settings) == ["reports.E003"]

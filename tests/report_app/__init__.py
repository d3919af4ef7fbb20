"""A test-only app with one report type, ``Paced``: rows at a set pace, for the consumer tests of a long report.

Those tests need a report that is still running when they kill, stop or cancel it, and that moves its bar. The
E-mail log over 40,000 outbox rows did that by the CPU it burned (about 5 s of XLSX per run, a dozen runs a
suite); this type takes as long while sleeping, through the same generation, progress, files and e-mail. Its
consumers install the app (``tests.settings_reports``); the test process registers the type with the
``paced_report`` fixture (``tests/conftest.py``).
"""

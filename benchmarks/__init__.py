"""Benchmarks (``python -m benchmarks``) and the fault suite (``python -m benchmarks.faults``).

Scripts, not tests: they start their own SMTP sink, databases under ``var/bench/`` and real
consumer processes, and write ``docs/benchmarks.md`` and ``docs/reliability.md``.
"""

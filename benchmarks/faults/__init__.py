"""The fault suite (``python -m benchmarks.faults``): real processes, e-mails counted at the SMTP sink."""

"""One module per report type; each registers itself with ``reports.registry.register``."""

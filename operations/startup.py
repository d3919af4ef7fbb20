"""Consumer start-up hooks: now ``durable.startup`` (the lowest layer); kept for the apps that import it here."""

from durable.startup import once_per_consumer

__all__ = ["once_per_consumer"]

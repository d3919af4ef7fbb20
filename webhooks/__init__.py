"""Outgoing webhooks: staff-configured endpoints, each event a signed, durable, ordered delivery."""

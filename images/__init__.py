"""Profile pictures: an upload stored privately, its sizes made by a durable task, served with cache headers (issue 11)."""

"""The pure rules, tested without a database: the calling window, caps, retries, caller-id rotation, and
how a row, a phone number, a time and a CSV file are read. ``pytest tests/rules`` runs them alone."""

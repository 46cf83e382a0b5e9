"""Shared kernel: settings, database, events, errors, auth, telemetry. Imports no context."""

"""Shared kernel: settings, database, events, errors, auth plumbing, telemetry. Imports no context."""

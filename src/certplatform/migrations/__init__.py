"""Alembic migrations of every context's tables."""

"""Readers and writers for question interchange formats."""

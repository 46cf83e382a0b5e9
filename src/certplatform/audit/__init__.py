"""Audit context: the append-only, hash-chained log of security- and exam-relevant actions."""

"""Community: per-question discussion threads, error reports (이의 신고) and notices."""

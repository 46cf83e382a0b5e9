"""Identity context: accounts, roles, sessions and bearer tokens, login rate limits."""

"""Gateway edge: the GraphQL API over the contexts' services."""

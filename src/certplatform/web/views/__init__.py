"""HTML routes of the web edge, one module per area."""

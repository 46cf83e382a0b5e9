"""Web edge: server-rendered pages for learners (/) and the back office (/admin)."""

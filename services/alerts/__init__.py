"""The alerts service: escalation of unresolved issues to the right administrator, on time."""

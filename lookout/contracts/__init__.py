"""Event contracts shared by every service: pydantic models and the subject catalogue."""

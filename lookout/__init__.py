"""Lookout: the shared kernel of an event-driven suite for a school's School Safety Officer."""

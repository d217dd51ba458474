"""The school file's model and what follows from it alone: the patrol plan, policy coverage."""

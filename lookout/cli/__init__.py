"""The `lookout` command, one module per verb group (main.py holds the app)."""

"""Watchlist providers by name: the `lookout.watchlist_providers` entry point group (registry),
the school's CSV (csv) and a screening service answering JSON over HTTP (http_json)."""

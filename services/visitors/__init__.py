"""The visitors service: front-office sign-in/out, watchlist screening, badges, on-site roster."""

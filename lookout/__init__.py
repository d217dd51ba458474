"""Lookout: what the services share and how the suite is run.

Rooms (docs/architecture.md opens with the map): `contracts` (events, subjects, requests),
`school` (the school file and what follows from it alone), `kernel` (what every service process
is built from), `cli` (the `lookout` command), `local` (the whole suite on one machine),
`deploy` (production), `simulation` (a seeded school week).
"""

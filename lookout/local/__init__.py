"""The whole suite on one machine: embedded NATS, the supervisor, the mail sink, the demo."""

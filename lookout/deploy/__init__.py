"""Production: NATS users, permissions and streams for a deployment."""

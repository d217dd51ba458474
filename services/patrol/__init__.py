"""The patrol service: checkpoint scans, observations, concerns and contacts from the SSO."""

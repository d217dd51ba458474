"""What every service process is built from: settings, clock, consumer, inbox/outbox, timers."""

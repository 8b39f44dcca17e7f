"""Settings, persistence wiring, clock and logging: everything that touches the outside world."""

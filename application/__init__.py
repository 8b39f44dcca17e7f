"""Thin application services: load, decide, save; translate library errors to Vigil's own."""

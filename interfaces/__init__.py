"""Thin entry points onto the application services: the HTTP API and the CLI."""

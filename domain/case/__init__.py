"""The Case aggregate: one concern about one subject, told as immutable events."""

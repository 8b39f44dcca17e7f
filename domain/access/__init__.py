"""Access to case records: the access log (who read what, when, why) and break-glass grants."""

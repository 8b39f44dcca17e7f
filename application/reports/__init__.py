"""Compliance reports (issue 15): definitions, builders, the document and the service."""

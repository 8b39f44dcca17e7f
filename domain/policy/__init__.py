"""SLA policies: the organisation's service-level targets, versioned (issue 15)."""

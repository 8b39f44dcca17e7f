"""Services: what the organisation runs (a forum, a helpline), each with a versioned calendar."""

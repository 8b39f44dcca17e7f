"""The data subject aggregate: legal holds and erasures of one person's (or item's) data."""

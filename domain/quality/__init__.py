"""Quality review: the organisation's scorecard in versions, and the pure scoring of a review."""

"""Compliance (issue 15): the trustees' sign-off of the serious-incident register."""

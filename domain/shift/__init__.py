"""Shifts: the rota, attendance against it, and handovers between the people on it."""

"""Vigil's domain: pure decide/evolve functions, no I/O, no clock, no random ids."""

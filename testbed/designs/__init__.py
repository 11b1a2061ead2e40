"""Pilot designs: writing, power, randomization, registration, amendments and verification."""

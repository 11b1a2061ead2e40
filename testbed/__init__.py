"""Testbed: the pilot tracker of a network of innovative school districts."""

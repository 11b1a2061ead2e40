"""Volunteering, fit scores, matching rounds and acceptance (issue 6)."""

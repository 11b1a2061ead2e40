"""Findings: the registered analysis of a pilot, shown plainly and published safely."""

"""Accounts, organizations, memberships, sessions, tokens and the security audit log."""

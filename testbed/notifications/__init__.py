"""In-app notifications: one list per person (new proposals, acceptances, declines, invitations)."""

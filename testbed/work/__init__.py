"""A home for each person after sign-in: what needs them now, one link each."""

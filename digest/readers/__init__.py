"""The list and its readers: addresses, sign-up with double opt-in, one-off notices,
leaving and preferences."""

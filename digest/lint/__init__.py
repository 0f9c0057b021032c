"""`digest lint`: every copy a week would send, checked as `send` builds it, sending
nothing."""

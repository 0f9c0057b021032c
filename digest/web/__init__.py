"""The web adapters: the subscriber pages, the sign-up pages, the editors' local preview."""

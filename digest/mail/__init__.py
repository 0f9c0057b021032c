"""The wire: a message's bytes to a relay or a provider's API, and what the other
side answered. It knows no edition, no week's content and no list: it imports only
the bottom floor (models, errors, addresses, tokens, bodies, relays, config)."""

"""Delivery: messages built per variant, the pool, the transports (outbox, SMTP), the
ledger and its workers, and the send use cases (preview, freeze, send, test copies)."""

"""An edition's send: the plan, the freeze, the ledger and its workers, the status, the
reputation guard, and the preview (any reader's copy exactly as `send` builds it), over
the wire in `digest/mail/`."""

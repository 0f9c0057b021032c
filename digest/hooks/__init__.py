"""Webhooks out, to the Standard Webhooks 1.0 specification: endpoints (`endpoints`),
the signature (`signing`) and the sender that delivers the events each change wrote in
its own transaction (`sender`)."""

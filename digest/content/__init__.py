"""The content: articles in (records, feeds), the week gathered, excerpts, the edition
rendered, frozen, archived and linted."""

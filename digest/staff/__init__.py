"""The desk's people and their record: staff accounts with roles made of named
permissions, their logins and sessions, the hash-chained audit log, and each audited
act (the one library call the CLI and the desk both make).

    audit     the append-only, hash-chained log: append, list (masked), verify
    accounts  roles and permissions, staff accounts, passwords (Argon2id), TOTP,
              one-time links, logins (limited, the same answer for any account), sessions
    passkeys  WebAuthn: a passkey registered from a session, a login by passkey alone
    acts      each state change and reader lookup, audited: the note, the lead, the
              list, feeds, send, approve, hold, test send
"""

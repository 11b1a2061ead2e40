"""Mail: messages written to an outbox table in the transaction that causes them (outbox.py),
built from templates (messages.py) and delivered by a background sender over SMTP or into
DATA_DIR/outbox as .eml files (transport.py). See docs/mail.md."""

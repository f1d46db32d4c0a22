"""SMTP: the transport behind the engine's ``Transport``/``Connection`` protocols, and the dev sink.

``transport.SmtpTransport`` connects, secures (STARTTLS / TLS, verified) and authenticates with
smtplib; ``transaction`` is the one state machine of a message transaction (``MuxConnection``,
non-blocking; the send loop and proofs both drive it);
``replies`` turns each reply into the engine's ``Outcome``. ``devsink`` is ``newsletter dev-smtp``:
an aiosmtpd server on 127.0.0.1 that stores every message in a Maildir for the preview's outbox.
"""

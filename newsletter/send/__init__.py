"""Send: the engine. An issue, the audience and a ``Transport`` in, one ``SendReport`` out.

``run.run_send`` is the one send path (the CLI, the scheduler, the preview's proofs use it): the
pre-flight gate, the audience read and frozen in the ledger, each edition rendered once and
composed per member (``mail``), then the loop (``loop``, ``slots``, ``job``): claims, the
suppression check right before each message, pacing and 421 back-off (``pacing``), retries and
the error budget, each outcome (``outcomes``) committed before its connection gets the next
message. The engine owns the interfaces it needs (``protocols``: ``Transport`` and ``Connection``,
``Store`` and ``StoreSession``, ``Suppressions``, together ``SendParts``) and builds none of them:
``edges.send_parts`` makes the real ones; it imports neither SQLAlchemy nor smtplib.
"""

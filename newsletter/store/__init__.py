"""Store: the state database behind the engine, in SQL (SQLAlchemy Core; SQLite by default, PostgreSQL alike).

``db.engine_for`` opens one engine per URL and creates the ``tables`` (called by ``edges`` only, which
hands the engine in). ``ledger`` keeps one row per (issue, member) and the send runs (the engine's
``Store``; ``session`` its hot path); ``suppressions`` the addresses never to mail again;
``schedules`` the persistent schedules as ``ScheduleInfo``; ``approvals`` who approved which
content; ``leases`` the named leases (one send per issue, one scheduler per database). What goes
in and comes out are the stage values (rows, ``Suppression``, ``Approval``); only the scheduler
(``schedule.service``, ``schedule.retries``) still queries these tables itself.
"""

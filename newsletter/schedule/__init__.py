"""Schedule: sends at a time the editor names, fired by one scheduler process per database.

``plans`` turns ``--to SEGMENT --at LOCAL TIME`` into checked rows of ``store.schedules``
(``times``: the wall-clock time → one UTC instant, DST nights refused); ``service`` is
``newsletter scheduler``: APScheduler fires each row through the one send path
(``send.run.run_send``) under a lease, holds what was missed for too long, and resumes the sends
whose retries fell due (``retries``). What goes out is the same ``SendReport`` a send by hand gets.
"""

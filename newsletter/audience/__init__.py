"""Audience: the subscriber CSV in, the member list out (valid, de-duplicated ``Member`` values).

``read_members`` streams the office's export (``csvfile``: encoding, delimiter, bounded records;
``columns``: the header and its aliases), checks every cell (``cells``, ``address``), merges
duplicates and keeps the rejected rows with their ``CSV:line`` (``rows``, the bulk of them on disk
via ``spill``), and returns an ``AudienceReport`` with ``Counts`` per segment, language and edition.
``targets`` says which members a send's ``--to`` addresses; ``suppressions`` holds the suppression
list's value type (its SQL is in ``store``).
"""

from .members import AudienceReport, Counts, count_members, read_members, write_report

__all__ = ["AudienceReport", "Counts", "count_members", "read_members", "write_report"]

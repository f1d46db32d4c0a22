"""``newsletter inbox`` (issue 13): read the bounce mailbox, act on delivery reports, complaints and
mailto: unsubscribes, move what was processed to the Processed folder, leave everything else
exactly as it was. ``mailbox.open_mailbox`` builds the reader from NEWSLETTER_INBOX (``maildir``
or ``imap``), ``decide`` matches a classified report (``newsletter.reports``) to the ledger and
says what to do, ``run`` does it (or, with --dry-run, only says it)."""

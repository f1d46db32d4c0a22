"""What an inbound mail is (issue 13): a delivery report, a complaint, a mailto: unsubscribe, an
auto-reply, a plain-text bounce notice, or a person's mail. Pure: bytes in, a frozen ``Report`` out
(``classify``), no I/O, no database, no configuration; the inbox runner (``newsletter.inbox``)
matches a report to the ledger and acts on it."""

from .classify import classify
from .model import Kind, Recipient, Report, Severity

__all__ = ["Kind", "Recipient", "Report", "Severity", "classify"]

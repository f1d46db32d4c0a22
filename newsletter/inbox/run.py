"""One pass over the bounce mailbox: classify every mail, act on the reports, move what was
processed, leave everything else as it was (``run_inbox``); ``inbox_once`` builds the parts from the
configuration (the command and the scheduler's job).

Each processed mail is recorded — its events, the bounced ledger rows and the suppressions in one
transaction — BEFORE it is moved: a crash between the two leaves a recorded mail in the folder,
which the next run only moves. With ``dry_run`` nothing is recorded, suppressed or moved: the
folder is opened read-only and the lines say what a real run would do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Config
from ..reports import classify
from ..reports.classify import Phrases
from ..store.inbox import Event, InboxBook
from .decide import Context, Plan, decide, label
from .mailbox import Mailbox, open_mailbox

_MOVE_BATCH = 100


@dataclass
class InboxResult:
    mailbox: str
    processed_folder: str
    dry_run: bool
    read: int = 0
    processed: int = 0
    left: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)  # reason → addresses newly suppressed

    def summary(self) -> str:
        moved = "would be moved" if self.dry_run else "moved"
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.suppressed.items())) or "none"
        line = (
            f"inbox {self.mailbox}: {self.read} mail(s) read, {self.processed} processed and {moved} to "
            f"{self.processed_folder}, {self.left} left as they were; newly suppressed: {counts}"
        )
        return f"{line} (dry run: nothing changed)" if self.dry_run else line


def run_inbox(
    config: Config,
    mailbox: Mailbox,
    book: InboxBook,
    *,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> InboxResult:
    ctx = Context(config, book, now or datetime.now(UTC))
    result = InboxResult(mailbox.shown, mailbox.processed, dry_run)
    phrases = inbox_phrases(config)
    known = book.known()
    waiting: list[str] = []
    for mail in mailbox.mails():
        if should_stop():  # the scheduler stops: what was recorded is moved, the rest waits
            break
        result.read += 1
        report = classify(mail.raw, phrases)
        if report.key in known:  # recorded by an earlier run that stopped before moving it
            result.processed += 1
            waiting.append(mail.ref)
        else:
            plan = decide(report, ctx)
            _show(plan, echo, dry_run)
            if plan.changes is None:
                result.left += 1
                continue
            result.processed += 1
            if dry_run:
                continue
            book.record(plan.changes, ctx.now)
            known[report.key] = True
            waiting.append(mail.ref)
        if len(waiting) >= _MOVE_BATCH and not dry_run:
            mailbox.move(waiting)
            waiting = []
    if waiting and not dry_run:
        mailbox.move(waiting)
    result.suppressed.update(ctx.suppressing.values())
    return result


def inbox_once(
    config: Config,
    *,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    should_stop: Callable[[], bool] = lambda: False,
) -> InboxResult:
    """Open NEWSLETTER_INBOX and the state database, run once, close the mailbox."""
    from ..edges import inbox_book

    book = inbox_book(config)
    mailbox = open_mailbox(config, readonly=dry_run)
    try:
        return run_inbox(config, mailbox, book, dry_run=dry_run, echo=echo, should_stop=should_stop)
    finally:
        mailbox.close()


def inbox_phrases(config: Config) -> Phrases:
    """The subject phrases of every language of templates/labels.toml ([<lang>.inbox])."""
    from ..render.labels import catalogue

    loaded = catalogue(config)
    out_of_office: list[str] = []
    notices: list[str] = []
    for language in loaded.languages:
        words = loaded.words(config.language_chain(language)).inbox
        out_of_office += words.phrases("out_of_office")
        notices += words.phrases("bounce_notice")
    return Phrases(tuple(dict.fromkeys(out_of_office)), tuple(dict.fromkeys(notices)))


def _show(plan: Plan, echo: Callable[[str], None], dry_run: bool) -> None:
    prefix = "[dry run] " if dry_run else ""
    report = plan.report
    if plan.changes is None:
        echo(f"{prefix}left\t{report.sender or '(no sender)'}\t{plan.left_because}")
        return
    for event in plan.changes.events:
        echo(f"{prefix}{_line(event)}")


def _line(event: Event) -> str:
    return "\t".join(
        part
        for part in (
            label(event.severity),
            event.address or "",
            event.status,
            event.issue or "",
            event.action,
        )
        if part
    )


__all__ = ["InboxResult", "inbox_once", "inbox_phrases", "run_inbox"]

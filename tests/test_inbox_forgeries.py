"""Reports that must suppress nobody, on a real Dovecot and in a Maildir, after a real send: a forged
report for an address the ledger never mailed, a VERP token that does not verify, a ``5.7.1`` block
(about the sender, not the member) and an unsubscribe whose token does not verify. The forgeries stay
where they were (for a person), the block is recorded and moved; no ledger row changes."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import imap_rig
import pytest
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states, write_members
from inbox_rig import deliver, fill, rows, snapshot, use_bounce_address, values_for
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions

pytestmark = pytest.mark.mailserver
dovecot, dovecot_factory = imap_rig.dovecot, imap_rig.dovecot_factory

FORGED = "dsn-forged-never-mailed.eml"
BAD_VERP = "dsn-bad-verp-token.eml"
BLOCKED = "dsn-outlook-blocked-5.7.1.eml"
BAD_TOKEN = "mailto-unsubscribe-bad-token.eml"


class Imap:
    def __init__(self, rig):
        self.rig = rig
        self.env = rig.env("INBOX")
        self.shown, self.processed = rig.url("INBOX"), "INBOX/Processed"

    def put(self, raw: bytes, n: int) -> None:
        self.rig.append("INBOX", raw, flags=("\\Seen",) if n % 2 else ())

    def state(self):
        return {f: self.rig.messages(f) for f in self.rig.folders()}

    def left(self) -> list[str]:
        return [m.message_id for m in self.rig.messages("INBOX")]

    def stayed_as_it_was(self, before) -> bool:
        """Every mail still in INBOX has the UID and the flags it had."""
        return set(self.rig.messages("INBOX")) <= set(before["INBOX"])

    def moved(self) -> list[str]:
        return [m.message_id for m in self.rig.messages("INBOX/Processed")]


class Maildir:
    def __init__(self, folder):
        self.folder = folder
        self.env = {"NEWSLETTER_INBOX": str(folder)}
        self.shown, self.processed = str(folder), f"{folder}/.Processed"

    def put(self, raw: bytes, n: int) -> None:
        deliver(self.folder, raw, seen=bool(n % 2))

    def state(self):
        return snapshot(self.folder)

    def _ids(self, *subs: str) -> list[str]:
        found = []
        for sub in subs:
            for path in sorted((self.folder / sub).iterdir()):
                head = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
                found += [line.split(":", 1)[1].strip() for line in head.split("\r\n")
                          if line.lower().startswith("message-id:")]  # fmt: skip
        return found

    def left(self) -> list[str]:
        return self._ids("new", "cur")

    def stayed_as_it_was(self, before) -> bool:
        """Every mail still in new/ or cur/ has its name (the flags) and its bytes."""
        now = snapshot(self.folder)
        return all(before.get(k) == v for k, v in now.items() if k.startswith(("new/", "cur/")))

    def moved(self) -> list[str]:
        return self._ids(".Processed/new", ".Processed/cur")


@pytest.mark.parametrize(
    ("kind", "verp"), [("imap", True), ("imap", False), ("maildir", True)], ids=["imap-verp", "imap", "maildir-verp"]
)  # fmt: skip
def test_forgeries_and_blocks_suppress_nobody(
    project, project_env, smtp_sink_factory, dovecot_factory, kind, verp
):
    copy_issue(project)
    use_bounce_address(project, verp=verp)
    write_members(project, 8)
    env = sink_env(project_env, smtp_sink_factory(keep_data=False))
    assert run_cli(["send", SLUG, "--to", "all", "--yes"], env, project).returncode == 0
    config = config_for(project, env)
    members = sorted(rows(config, SLUG).values(), key=lambda r: r.id)
    box = Imap(dovecot_factory()) if kind == "imap" else Maildir(project / "bounces")
    for n, name in enumerate((FORGED, BAD_VERP, BLOCKED, BAD_TOKEN)):
        box.put(fill(name, values_for(config, members[n])), n)
    before = box.state()

    done = run_cli(["inbox", "--once"], {**env, **box.env}, project)
    assert done.returncode == 0, done.stderr
    *lines, summary = done.stdout.splitlines()
    never = (
        "no VERP token and no Message-ID of ours"
        if verp
        else "no delivery to this address in the last 30 days"
    )
    assert sorted(lines) == sorted(
        [
            "left\tmailer-daemon@forger.example\ta delivery report, nobody suppressed: "
            f"never.mailed@stranger.example: {never}",
            "left\tmailer-daemon@forger.example\ta delivery report, nobody suppressed: "
            f"{members[1].address}: its VERP token does not verify",
            f"blocked\t{members[2].address}\t5.7.1\t{SLUG}\t"
            "counted, nobody suppressed (a block is about the sender, not the member)",
            f"left\t{members[3].address}\tan unsubscribe without a valid token (for a person)",
        ]
    )  # a Maildir is read new/ then cur/
    assert summary == (
        f"inbox {box.shown}: 4 mail(s) read, 1 processed and moved to {box.processed}, "
        "3 left as they were; newly suppressed: none"
    )
    assert Suppressions(engine_for(config.database_url)).list() == []
    assert states(config) == {"sent": 8}
    assert sorted(box.left()) == ["<forged-0001@forger.example>", "<forged-0002@forger.example>",
                          "<mailto-unsub-3@mail.example.org>"]  # fmt: skip
    assert box.moved() == ["<c0ffee00-1234-4abc-9def-0123456789ab@DB5PR01MB0001.eurprd01.prod.outlook.com>"]
    assert box.stayed_as_it_was(before)

    after = box.state()
    again = run_cli(["inbox", "--once"], {**env, **box.env}, project)
    assert again.returncode == 0, again.stderr
    assert box.state() == after and Suppressions(engine_for(config.database_url)).list() == []

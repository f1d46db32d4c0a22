"""Per-message cost of personalising an edition: compose.MessageTemplate vs the stdlib EmailMessage.

    .venv/bin/python benchmarks/compose.py [N]

Uses the example issue's largest rendered edition (padded to ≈ 48 KB of HTML if smaller) so the
figure compares like with like: the same headers, both parts, quoted-printable, per member. Two more
lines show the cost of pictures embedded in the mail (no NEWSLETTER_PUBLIC_URL): the example's map,
and a 300 KB picture; their base64 parts are built once per edition and only joined per member. One
more shows the cost of a VERP envelope sender per member (``verp = true``, issue 13).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_config  # noqa: E402
from newsletter.mail.compose import MessageTemplate  # noqa: E402
from newsletter.mail.tokens import make_token  # noqa: E402
from newsletter.mail.verp import verp_address  # noqa: E402
from newsletter.model import Edition, Member  # noqa: E402

TARGET_HTML = 48_000


def embedded_edition(config) -> Edition:  # type: ignore[no-untyped-def]
    """The example's edition with the Silesia map, rendered without a public URL: the map travels in the mail."""
    from newsletter.content import load_issue
    from newsletter.render.renderer import Renderer

    issue = load_issue(ROOT / "issues" / "2022-03-laenderfokus", config)
    return Renderer(config).render(issue, frozenset({"poland"}), "de")


def edition(config) -> Edition:  # type: ignore[no-untyped-def]
    try:
        from newsletter.content import load_issue
        from newsletter.render.renderer import build_editions

        issue = load_issue(ROOT / "issues" / "2022-03-laenderfokus", config)
        best = max(build_editions(issue, config), key=lambda e: len(e.html))
    except Exception as exc:  # noqa: BLE001 - the benchmark still runs on a synthetic edition
        print(f"(example issue not rendered: {exc}; using a synthetic edition)")
        best = Edition(
            "bench", frozenset({"poland"}), "de", "Länderfokus", "", "<p>[[nl:salutation]]</p>\n", "", ()
        )
    pad = max(0, TARGET_HTML - len(best.html)) // 80
    filler = "<p>Zulieferer in Sachsen – Marktbericht, Termine und Ansprechpartner für Polen.</p>\n" * pad
    html = best.html.replace("</body>", filler + "</body>") if "</body>" in best.html else best.html + filler
    text = best.text or "[[nl:salutation]]\n\nText\n\n[[nl:unsubscribe_url]]\n"
    return Edition(best.issue_slug, best.segments, best.language, best.subject, "", html, text, best.articles)


def members(n: int) -> list[Member]:
    return [
        Member(
            f"member{i}@example.org", i + 2, "de", frozenset({"poland"}), "Anna", f"Müller{i}", "Frau", "AMZ"
        )
        for i in range(n)
    ]


def stdlib(ed: Edition, config, member: Member) -> bytes:  # type: ignore[no-untyped-def]
    """What a straightforward implementation does per member."""
    token = make_token(member.address, "poland", config)
    values = {
        "[[nl:salutation]]": f"Sehr geehrte Frau {member.last_name},",
        "[[nl:first_name]]": member.first_name,
        "[[nl:last_name]]": member.last_name,
        "[[nl:company]]": member.company,
        "[[nl:unsubscribe_url]]": f"https://news.example.org/u/{token}",
        "[[nl:browser_url]]": "https://news.example.org/x/de.html",
    }
    html, text = ed.html, ed.text
    for key, value in values.items():
        html, text = html.replace(key, value), text.replace(key, value)
    msg = EmailMessage()
    msg["From"] = f"{config.sender_name} <{config.sender_address}>"
    msg["To"] = f"{member.first_name} {member.last_name} <{member.address}>"
    msg["Subject"] = ed.subject
    msg["Date"] = format_datetime(time_now())
    msg["Message-ID"] = make_msgid(domain=config.mail_domain)
    msg["List-Id"] = f"AMZ <poland.newsletter.{config.mail_domain}>"
    msg["List-Unsubscribe"] = f"<https://news.example.org/u/{token}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg.as_bytes()


def time_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def measure(label: str, fn, items: list[Member]) -> float:  # type: ignore[no-untyped-def]
    fn(items[0])  # warm up
    start = time.perf_counter()
    size = 0
    for member in items:
        size = len(fn(member))
    ms = (time.perf_counter() - start) * 1000 / len(items)
    print(f"{label:<44} {ms:7.3f} ms/message  ({1000 / ms:7.0f} messages/s per core, {size / 1024:.0f} KB)")
    return ms


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    config = load_config(
        ROOT, {"NEWSLETTER_PUBLIC_URL": "https://news.example.org", "NEWSLETTER_SECRET": "bench"}
    )
    ed = edition(config)
    items = members(n)
    start = time.perf_counter()
    template = MessageTemplate.for_edition(ed, config)
    print(
        f"edition {ed.key}: html {len(ed.html) / 1024:.0f} KB, text {len(ed.text) / 1024:.0f} KB; "
        f"template built once in {(time.perf_counter() - start) * 1000:.1f} ms"
    )
    fast = measure("compose.MessageTemplate.personalise", lambda m: template.personalise(m).data, items)
    token_ms = measure(
        "  of which make_token (Fernet)", lambda m: make_token(m.address, "poland", config), items
    )
    verp = dataclasses.replace(config, verp=True, bounce_address="bounces@amz-sachsen.example")
    with_verp = MessageTemplate.for_edition(ed, verp)
    ids = {m.address: i + 1 for i, m in enumerate(items)}
    measure(
        "  same, VERP envelope sender (verp = true)",
        lambda m: with_verp.personalise(m, delivery_id=ids[m.address]).data,
        items,
    )
    measure("  of which verp_address (HMAC)", lambda m: verp_address(ids[m.address], verp), items)
    local = load_config(ROOT, {"NEWSLETTER_SECRET": "bench"})  # no NEWSLETTER_PUBLIC_URL
    with_map = embedded_edition(local)
    mapped = MessageTemplate.for_edition(with_map, local)
    measure(
        f"  without public URL, {len(with_map.images)} picture embedded",
        lambda m: mapped.personalise(m).data,
        items,
    )
    big = dataclasses.replace(
        with_map, images=(dataclasses.replace(with_map.images[0], data=bytes(300 * 1024)),)
    )
    start = time.perf_counter()
    heavy = MessageTemplate.for_edition(big, local)
    built = (time.perf_counter() - start) * 1000
    measure(f"  same, a 300 KB picture (template {built:.1f} ms)", lambda m: heavy.personalise(m).data, items)
    few = items[: max(100, n // 20)]
    slow = measure("stdlib EmailMessage per member", lambda m: stdlib(ed, config, m), few)
    # MJML writes lines of several KB; the stdlib's quoted-printable encoder is much slower on those.
    short = dataclasses.replace(ed, html=ed.html.replace("><", ">\n<"))
    short_ms = measure("  same, HTML re-wrapped to short lines", lambda m: stdlib(short, config, m), few)
    print(
        f"speed-up: {slow / fast:.0f}x ({short_ms / fast:.0f}x against short lines); "
        f"personalise without the token: {fast - token_ms:.3f} ms"
    )


if __name__ == "__main__":
    main()

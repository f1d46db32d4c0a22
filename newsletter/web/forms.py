"""Pieces of the subscription pages' forms (plain HTML, no scripts), and reading a posted form.

Every value is escaped here; the words come from ``[<lang>.subscription]`` of the catalogue.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping

from starlette.datastructures import FormData
from starlette.requests import Request

from ..config import Config
from ..render.labels import SubscriptionWords, catalogue

MAX_FORM = 16 * 1024  # bytes of a posted form; a sign-up is well under 2 KB
MAX_FIELDS = 40


class TooLarge(Exception):
    """The request body is larger than its limit (MAX_FORM) or is not a form."""


async def read_form(request: Request, max_bytes: int = MAX_FORM, max_fields: int = MAX_FIELDS) -> FormData:
    """The posted form, refusing bodies over ``max_bytes`` before reading them (and while reading)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_bytes):
        raise TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise TooLarge
    request._body = body  # starlette reads the form from the body we already hold
    try:
        return await request.form(max_files=0, max_fields=max_fields)
    except Exception:  # noqa: BLE001 - a malformed body is simply not a form we take
        raise TooLarge from None


def text_field(name: str, label: str, value: str, *, kind: str = "text", required: bool = False,
               error: str = "", autocomplete: str = "", maxlength: int = 200) -> str:  # fmt: skip
    """A labelled input; ``error`` (already worded) is shown under it and marks it invalid."""
    attrs = f' autocomplete="{autocomplete}"' if autocomplete else ""
    attrs += " required" if required else ""
    attrs += ' aria-invalid="true"' if error else ""
    star = ' <span class="req" aria-hidden="true">*</span>' if required else ""
    note = f'<span class="error" id="{name}-error">{html.escape(error)}</span>' if error else ""
    described = f' aria-describedby="{name}-error"' if error else ""
    return (
        f'<p class="field"><label for="{name}">{html.escape(label)}{star}</label>'
        f'<input type="{kind}" id="{name}" name="{name}" value="{html.escape(value)}" '
        f'maxlength="{maxlength}"{attrs}{described}>{note}</p>'
    )


def salutation_field(t: SubscriptionWords, value: str) -> str:
    options = (("", t.salutation_none), ("Frau", t.salutation_female), ("Herr", t.salutation_male))
    items = "".join(
        f'<option value="{v}"{" selected" if v == value else ""}>{html.escape(label)}</option>'
        for v, label in options
    )
    return (
        f'<p class="field"><label for="salutation">{html.escape(t.salutation)}</label>'
        f'<select id="salutation" name="salutation" autocomplete="honorific-prefix">{items}</select></p>'
    )


def language_field(config: Config, t: SubscriptionWords, chosen: str) -> str:
    names = catalogue(config)
    items = "".join(
        f'<label class="choice"><input type="radio" name="language" value="{lang}"'
        f'{" checked" if lang == chosen else ""}> <span lang="{lang}">'
        f"{html.escape(names.language_name(lang))}</span></label>"
        for lang in config.languages
    )
    return f"<fieldset><legend>{html.escape(t.language)}</legend>{items}</fieldset>"


def segments_field(config: Config, t: SubscriptionWords, lang: str, chosen: Collection[str]) -> str:
    items = "".join(
        f'<label class="choice"><input type="checkbox" name="segments" value="{html.escape(seg.id)}"'
        f"{' checked' if seg.id in chosen else ''}> {html.escape(seg.name(lang))}</label>"
        for seg in config.segments.values()
    )
    hint = f'<span class="hint">{html.escape(t.segments_hint)}</span>'
    return f"<fieldset><legend>{html.escape(t.segments)}</legend>{hint}{items}</fieldset>"


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{html.escape(value)}">'


def fmt(template: str, values: Mapping[str, str]) -> str:
    """A catalogue sentence with its placeholders filled, every part escaped."""
    return html.escape(template).format(**{k: html.escape(v) for k, v in values.items()})


FORM_CSS = (
    "form{margin:1rem 0}.field{margin:0 0 1rem}label{display:block;font-weight:600;margin:0 0 .3rem}"
    "input[type=text],input[type=email],select{box-sizing:border-box;width:100%;font-size:1rem;"
    "padding:.55rem .6rem;border:1px solid #8a949c;border-radius:6px;background:#fff;color:#1d2329}"
    "input[aria-invalid=true]{border-color:#b3261e;outline:1px solid #b3261e}"
    "fieldset{border:1px solid #d5dadf;border-radius:6px;margin:0 0 1rem;padding:.6rem .9rem}"
    "legend{font-weight:600;padding:0 .3rem}label.choice{font-weight:400;display:flex;gap:.5rem;"
    "align-items:flex-start;margin:.45rem 0}label.choice input{margin-top:.25rem}"
    ".hint{display:block;font-size:.85rem;color:#555;margin:0 0 .3rem}.req{color:#b3261e}"
    ".error{display:block;color:#b3261e;font-size:.9rem;margin-top:.25rem}"
    ".alert{border-left:4px solid #b3261e;background:#fdf1f0;padding:.6rem .8rem}"
    ".trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
    "button.secondary{background:#fff;color:#b3261e;border:1px solid #b3261e}"
    ".consent{font-weight:400}@media (max-width:480px){main{margin:0;border-radius:0;padding:1.2rem}}"
)


__all__ = [
    "FORM_CSS",
    "MAX_FORM",
    "TooLarge",
    "fmt",
    "hidden",
    "language_field",
    "read_form",
    "salutation_field",
    "segments_field",
    "text_field",
]

"""The Jinja2 environment for newsletter templates: sandboxed, autoescaping, size-capped.

Templates in ``templates/`` are written by the association, not by us, so they run in Jinja's
``SandboxedEnvironment`` (no ``__globals__``, ``__class__`` …) with three extra limits: string and
list repetition/concatenation and ``**`` are capped, calls and filters refuse absurd numeric
arguments (``center(10**9)``), and the rendered output may not exceed ``MAX_OUTPUT`` characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..model import NewsletterError

MAX_OUTPUT = 5_000_000  # characters of one rendered template
MAX_ITEM = 1_000_000  # characters/items one expression may produce
MAX_NUMBER = 1_000_000  # largest number argument of a call or filter
MAX_EXPONENT = 64
_WIDE_FORMAT = re.compile(r"[%{:][^%{}]*\d{7,}")


class TemplateRefused(NewsletterError, SecurityError):
    """A template tried something the sandbox forbids; one line with the template's place."""


class TemplateProblem(NewsletterError):
    """A template has a syntax error, an undefined name or an unknown MJML tag."""


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_args(args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"number {value} is too large for a template (limit {MAX_NUMBER})")
        if isinstance(value, str) and _WIDE_FORMAT.search(value):
            raise SecurityError("format width is too large for a template")


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_args(args[1:], kwargs)
        return func(*args, **kwargs)

    return guarded


class NewsletterSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, templates: Path | None = None, **options: Any):
        super().__init__(
            loader=FileSystemLoader(str(templates)) if templates else None,
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            **options,
        )
        self.filters = {name: _guard_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            size, times = (_sized(left), right) if _sized(left) is not None else (_sized(right), left)
            if size is not None and isinstance(times, int) and size * times > MAX_ITEM:
                raise SecurityError(f"repetition would produce {size * times} items (limit {MAX_ITEM})")
        elif operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large for a template")
        elif operator == "+" and _sized(left) is not None and _sized(right) is not None:
            if (_sized(left) or 0) + (_sized(right) or 0) > MAX_ITEM:
                raise SecurityError(f"concatenation is larger than {MAX_ITEM} items")
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise SecurityError("format width is too large for a template")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _WIDE_FORMAT.search(value.__self__):
            raise SecurityError("format width is too large for a template")
        return wrapped


def render_capped(template: Template, context: Mapping[str, Any]) -> str:
    """Render, stopping with SecurityError once the output exceeds MAX_OUTPUT characters."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"template output is larger than {MAX_OUTPUT} characters")
        parts.append(chunk)
    return "".join(parts)

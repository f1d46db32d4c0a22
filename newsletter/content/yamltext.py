"""Values as YAML a careful person writes: quoted only where a reader would misread them.

The loader (PyYAML) reads YAML 1.1, where ``no`` is false, ``10:30`` is 630 and ``+4937112345`` a
number; ruamel.yaml, which writes, reads 1.2. ``yaml_text`` writes a text plain only when both
read it back as exactly that text, else in double quotes. Lists are written the way the examples
write them: segments and languages as ``[poland, usa]``, the article list one ``- name`` a line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, PlainScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

_INDICATOR_FIRST = set("-?:,[]{}#&*!|>'\"%@`")
_PHONE_OR_NUMBER = re.compile(r"^[+\-.(]?\d[\d\s()/.,:+_-]*$")  # +49 371 …, 0371/123, 10:30, 1.5, 2022-03
_RUAMEL_RESOLVER = VersionedResolver()


def yaml_text(text: str) -> str:
    """``text`` as the value to write: plain when every YAML reader reads it back as this text,
    else double-quoted (escapes for tabs and line breaks; „…“ and ą ę ł stay as they are)."""
    return DoubleQuotedScalarString(text) if needs_quotes(text) else text


def needs_quotes(text: str) -> bool:
    if not text or text != text.strip() or text[0] in _INDICATOR_FIRST:
        return True
    if ": " in text or " #" in text or text.endswith(":") or _PHONE_OR_NUMBER.match(text):
        return True
    if any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029\x85" for c in text):
        return True  # tabs, line breaks, control and invisible format characters
    return _resolves_to_other_than_text(text)


def _resolves_to_other_than_text(text: str) -> bool:
    """YAML 1.1 with timestamps (PyYAML: yes/no/on/off, 10:30, 0o17, dates) and 1.2 (ruamel)."""
    for tag, regexp in yaml.SafeLoader.yaml_implicit_resolvers.get(text[0], []):
        if tag != "tag:yaml.org,2002:str" and regexp.match(text):
            return True
    resolved = _RUAMEL_RESOLVER.resolve(ScalarNode, text, (True, False))
    return str(resolved) != "tag:yaml.org,2002:str"


def flow_list(items: Iterable[str]) -> CommentedSeq:
    """``[poland, usa]``: how segments and languages are written."""
    seq = CommentedSeq(yaml_text(item) for item in items)
    seq.fa.set_flow_style()
    return seq


def block_list(items: Iterable[str]) -> CommentedSeq:
    """One ``- name`` per line: how the article list is written."""
    seq = CommentedSeq(yaml_text(item) for item in items)
    seq.fa.set_block_style()
    return seq


def set_items(seq: CommentedSeq, items: Sequence[str]) -> None:
    """Give a list new items in place (its flow or block style stays). A comment at the end of a
    line goes with its item; comment lines between items stay at their place, those after the last
    item stay after the last item."""
    old = list(seq)
    own: dict[str, tuple[str, int | None]] = {}
    between: dict[int, str] = {}
    for index, slots in list(seq.ca.items.items()):
        token = slots[0] if slots else None
        if token is None or not hasattr(token, "value"):
            continue
        eol, _, rest = token.value.partition("\n")
        if eol.strip():
            own[str(old[index])] = (eol, token.column)
        between[index] = rest
    last = len(items) - 1
    tail = between.pop(len(old) - 1, "") if old else ""  # lines after the last item stay after the last one
    for index in [i for i in between if i > last]:  # lines after dropped positions: after the last item
        between[max(last, 0)] = between.get(max(last, 0), "") + between.pop(index)
    if tail:
        between[max(last, 0)] = between.get(max(last, 0), "") + tail
    seq.clear()
    seq.ca.items.clear()
    seq.extend(yaml_text(item) if not isinstance(item, DoubleQuotedScalarString) else item for item in items)
    for index, item in enumerate(items):
        eol, column = own.get(str(item), ("", None))
        value = eol + "\n" + between.get(index, "")
        if value != "\n":
            token = CommentToken(value, CommentMark(column or 0), None)
            seq.ca.items[index] = [token, None, None, None]


def assign(node: CommentedMap, key: object, value: object) -> None:
    """``node[key] = value``. ruamel.yaml keeps the quotes of the value it replaces; that is the
    editor's style and stays, except for an empty ``""`` (a stub left to fill in): its successor
    is written plain when ``yaml_text`` found that safe."""
    old = node.get(key)
    if isinstance(old, ScalarString) and not str(old) and type(value) is str:
        value = PlainScalarString(value)
    node[key] = value

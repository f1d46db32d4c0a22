"""Content: an issue folder in, one validated ``Issue`` out (Pelican's readers).

``issue.md`` (and ``issue.<lang>.md``) plus ``articles/<name>.<lang>.md``, each YAML front matter
(``frontmatter``) followed by Markdown, become the frozen ``Issue`` with its ``ArticleVariants``
(``issue``, ``articles``). Every problem is collected with its path and line, then raised at once
as one ``ContentError``; ``read_issue`` also returns the ``Outline`` that ``check`` can still use
when the issue does not load. Files are read only through the containment rule of ``paths``.

The editor's desk writes through this package too, never around it (each module says more):
``writer`` (open, save, reorder, add, remove, translate; every save takes the ``version`` it was
based on and raises ``document.StaleFile`` when the file changed meanwhile), ``forms`` (the typed
fields a form shows: ``IssueFields``, ``TranslationFields``, ``ArticleFields``), ``locate`` (loader
and check problems on their fields), ``scaffold.create_issue`` (a new issue, empty or from an
earlier one), ``uploads.store_image`` and ``wordimport.import_docx``.
"""

from .issue import LocalisedIssue, Outline, Reading, issue_images, load_issue, read_issue, resolve_issue_path

__all__ = [
    "LocalisedIssue",
    "Outline",
    "Reading",
    "issue_images",
    "load_issue",
    "read_issue",
    "resolve_issue_path",
]

"""Archive: every valid issue in, the static web archive out (``newsletter archive`` → ``site/``).

``site.build_archive`` renders each issue's complete edition per language with a general
salutation (no personal data, no tokens), the per-language index pages with hreflang links, an
RSS feed per language, copies the issue's pictures through ``paths`` and writes one ``.ics`` per
event (``ical``, each time in the zone it was written in): the targets of the mails' browser,
image and calendar links.
"""

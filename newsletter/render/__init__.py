"""Render: an ``Issue`` and an edition's (segments, language) in, one ``Edition`` out (Pelican's generators).

``renderer.Renderer`` picks each article's language along the fallback chain, turns the Markdown
into sanitised HTML (``markdown``), builds the frozen view the templates read (``view``), fills the
sandboxed Jinja2 templates (``sandbox``; dates and times localised by ``localise``), compiles the
MJML once per edition and derives the text part (``textpart``). Without a public URL the
edition's pictures are collected once as ``EditionImage`` values (``images``). The ``[[nl:…]]``
placeholders stay in for ``mail`` to fill. Every word members read comes from the one catalogue
``templates/labels.toml`` (``labels``); ``editions.Editions`` renders each edition of a command once.
"""

"""Web: the Starlette apps. Requests in, pages out; the library below does the work.

``preview`` is the editor's local preview (``newsletter preview``): every edition as members get
it, live reload, proofs through the one send path, the dev sink's outbox and the ledger counts,
behind the guards of ``safety``. ``public`` is ``newsletter serve``: the RFC 8058 one-click
unsubscribe (suppressions in ``store``) and the static archive, served through ``paths``.
"""

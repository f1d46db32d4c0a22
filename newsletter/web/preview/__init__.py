"""The editor's preview: an issue folder in, a live local web app out (``app.create_app``).

``state`` rebuilds one frozen snapshot (issue, editions, pre-flight, member list) on every change
that ``live`` sees; ``mail`` shows an edition as one member's message; ``outbox`` lists what the
dev sink caught and the ledger's counts. Templates and static files are in ``templates/`` and
``static/`` beside this package.
"""

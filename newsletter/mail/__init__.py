"""Mail: an ``Edition`` and a ``Member`` in, the bytes of one message out (a frozen ``ComposedMessage``).

``compose.MessageTemplate`` is built once per edition (headers checked and encoded by ``headers``,
bodies pre-encoded, pictures as inline parts by ``inline``) and personalised per member: the
salutation and names, the unsubscribe link with its sealed token (``tokens``), the DKIM signature
(``dkim``). Nothing here opens a connection: the send engine hands the message to a transport.
"""

"""Web apps: the editor's preview (local) and the public unsubscribe/archive service."""

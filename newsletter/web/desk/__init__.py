"""The editor's desk (``newsletter desk``): the preview grown into a place where people work.

``app`` builds the Starlette app (home page, the preview of each issue below
``/issues/<slug>/``, approval); ``auth`` holds sign-in: signed session cookies, form tokens,
the throttle on wrong passwords; ``home`` works out the state of every issue for the home page.
"""

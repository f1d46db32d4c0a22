"""Newsletter and member-mailing tool for industry associations."""

__version__ = "0.1.0"

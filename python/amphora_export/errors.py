"""The one exception type the exporter raises for problems the user can fix.

The CLI turns it into a single "amphora-export: error: ..." line and exit code 1; anything else
escaping is a bug in the exporter and keeps its traceback.
"""


class ExportError(Exception):
    """A user-facing export failure (bad file, bad config, failed parity, ...)."""

"""The one base of npcae's errors: what the command line reports in one line, by exit status.

    try: ...
    except NpcaeError as error:            # every error npcae raises on purpose
        print(error); sys.exit(error.exit_status)

A module's own error is a subclass (DataError, UnknownModel, MemoryTooSmall, ...), so `npcae`
reports it without `cli.py` knowing it exists. Kinds below ValueError keep `except ValueError`
in older code working. Exit statuses: 2 bad input or settings, 3 a diverged run, 4 a fault of
the disk (full, read-only, gone).
"""


class NpcaeError(Exception):
    """An error npcae raises on purpose, with a message that names the culprit in one line."""
    exit_status = 2


class InputError(NpcaeError, ValueError):
    """A value, file or setting that cannot be used (exit status 2)."""

"""The one error type for mistakes a user can make (bad file, bad CSV, missing model).

Raise `MmguiError` with a message the user can act on; the CLI prints it and exits 2, the UI
shows it as a message. Bugs are not wrapped: they crash loudly.
"""

from __future__ import annotations


class MmguiError(Exception):
    """A problem caused by the user's input or set-up, with a message that says what and why."""

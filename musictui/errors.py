"""The one exception type for mistakes a user can make (bad path, corrupt file, missing tool...).

The command line prints its message as a single line and exits non-zero; the app shows it as a
notification. Bugs are not UserErrors: they stay loud, with their traceback.
"""


class UserError(Exception):
    """A problem the user can fix. The message names the problem and, where there is one, the fix."""

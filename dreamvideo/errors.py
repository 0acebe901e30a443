"""The one exception type for user mistakes: the CLI prints it as one line and exits with code 2."""


class UserError(Exception):
    """Bad input or settings; the message names the problem and what to do."""

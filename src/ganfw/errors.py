"""The errors ganfw reports to users as one line (exit status 2, no traceback)."""


class UserError(Exception):
    """Bad input from the user's side: a recipe, a file, a checkpoint, a plugin name.

    The message says what is wrong and where; the CLI prints ``error: <message>`` and exits 2.
    """

    def __init__(self, message: str = "", *args: object):
        # One line whatever the input held (a path, a --set value with a line break): escaped.
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"), *args)

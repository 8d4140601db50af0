"""The errors ganfw reports to users as one line (exit status 2, no traceback)."""


class UserError(Exception):
    """Bad input from the user's side: a recipe, a file, a checkpoint, a plugin name.

    The message says what is wrong and where; the CLI prints ``error: <message>`` and exits 2.
    """

"""The errors ganfw reports to users as one line (exit status 2, no traceback), and the escaping
that keeps what a user typed or a file held from reaching the terminal raw."""

import unicodedata

#: Escapes of the usual control characters; any other is written as Python writes it (``\x1b``).
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Unicode categories escaped: controls (C0, DEL, C1), format characters (bidirectional
#: overrides, which reorder what a terminal shows), line and paragraph separators, and lone
#: surrogates (undecodable bytes of a file name, which a UTF-8 terminal cannot print).
_ESCAPED = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def printable(text: str) -> str:
    """``text`` with every control character escaped (a line break as ``\\n``, ESC as ``\\x1b``,
    NUL as ``\\x00``, a right-to-left override as ``\\u202e``), everything else as is: a value
    from a user or a file, fit to echo in a one-line message."""
    if text.isprintable() and text.isascii():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _ESCAPED else c for c in text)


def _escape(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class UserError(Exception):
    """Bad input from the user's side: a recipe, a file, a checkpoint, a plugin name.

    The message says what is wrong and where; the CLI prints ``error: <message>`` and exits 2.
    It is one line, escaped by :func:`printable`, whatever the input it quotes held (a path with
    a line break or an escape sequence, a ``--set`` value).
    """

    def __init__(self, message: str = "", *args: object):
        super().__init__(printable(message), *args)

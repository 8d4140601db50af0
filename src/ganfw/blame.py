"""Attribution: an error raised by plugin code becomes one line naming the component, its plugin
and package, and the call (the only path the engine uses to call into plugin code; see
:meth:`ganfw.training.parts.Part.call`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ganfw.errors import UserError
from ganfw.recipe import ComponentChoice, ComponentError


def one_line(e: BaseException) -> str:
    """``TypeName: message`` on one line."""
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


@contextlib.contextmanager
def blame(choice: ComponentChoice, call: str) -> Iterator[None]:
    """Run ``choice``'s code: any error it raises (a plugin's bug, or torch refusing what it
    does) becomes a one-line :class:`ComponentError` naming the component, its plugin and
    ``call``; a :class:`UserError` passes as is."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:  # third-party code
        raise ComponentError(f"{choice.who} raised in {call}: {one_line(e)}") from e


def call_checked(choice: ComponentChoice, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a component's first input: an error becomes one line naming it and the
    input's shape."""
    try:
        return fn(*args)
    except UserError:
        raise
    except Exception as e:  # third-party code
        shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
        raise ComponentError(f"{choice.who} failed on its first input {shapes}: {one_line(e)}") from e

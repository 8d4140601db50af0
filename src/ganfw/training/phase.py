"""Where the current step stands: the one owner of whether the training state is a whole step's
(and so may be checkpointed)."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    BEFORE = "before"  # a step has begun; nothing is updated yet: the state is the last step's
    UPDATING = "updating"  # an optimiser has stepped: the state is no step's until the step completes
    DONE = "done"  # the last step completed


class StepPhase:
    """The phase of the current step, set by the loop (``begin``, ``done``) and by the update
    (``updating``, when the first optimiser steps)."""

    def __init__(self) -> None:
        self.phase = Phase.DONE

    def begin(self) -> None:
        self.phase = Phase.BEFORE

    def updating(self) -> None:
        self.phase = Phase.UPDATING

    def done(self) -> None:
        self.phase = Phase.DONE

    @property
    def checkpoint_safe(self) -> bool:
        """The weights, optimisers and counters are those of a completed step."""
        return self.phase is not Phase.UPDATING

    def failed_step(self, completed: int) -> int:
        """The 1-based number of the step an error interrupted, ``completed`` steps being done."""
        return completed if self.phase is Phase.DONE else completed + 1

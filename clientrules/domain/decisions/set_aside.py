"""Setting aside a client that cannot be decided: every other client is still decided, and that one is named with why."""

from __future__ import annotations

from typing import Callable, TypeVar

from clientrules.domain.errors import ClientRulesError, StoreError

#: what makes one client undecidable without saying anything of the others (a store's error is everyone's)
UNDECIDABLE = (ClientRulesError, ArithmeticError)
Decided = TypeVar("Decided")


def one_line(error: BaseException) -> str:
    """Why a client was set aside, on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def decide_each_alone(
    clients: list[str], decide: Callable[[list[str]], list[Decided]], set_aside: Callable[[str, str], None]
) -> list[Decided]:
    """``decide`` each of ``clients`` on its own (a batch of them failed: find which), passing one it fails
    for to ``set_aside`` with a one-line reason; a store's error is everyone's and is raised."""
    decided: list[Decided] = []
    for client in clients:
        try:
            decided += decide([client])
        except StoreError:
            raise
        except UNDECIDABLE as error:
            set_aside(client, one_line(error))
    return decided

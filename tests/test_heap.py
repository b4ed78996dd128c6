from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from crosscurrent.heap import freeze_startup


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


BUILT = Node()  # alive when the process is built


@pytest.fixture
def frozen() -> Iterator[None]:
    freeze_startup()
    yield
    gc.unfreeze()


def test_what_is_alive_at_the_freeze_is_out_of_every_collection(frozen: None) -> None:
    assert gc.get_freeze_count() > 0
    assert not any(o is BUILT for o in gc.get_objects())
    gc.unfreeze()
    assert any(o is BUILT for o in gc.get_objects())  # where it was before


def test_startup_garbage_is_not_frozen() -> None:
    garbage = weakref.ref(Node())
    assert garbage() is not None  # held by its own cycle
    freeze_startup()
    try:
        assert garbage() is None
    finally:
        gc.unfreeze()


def test_what_is_made_after_the_freeze_is_collected_as_before(frozen: None) -> None:
    kept = Node()
    later = weakref.ref(Node())
    assert later() is not None
    gc.collect()
    assert later() is None
    assert any(o is kept for o in gc.get_objects())  # tracked, unlike the frozen heap

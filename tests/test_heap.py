from __future__ import annotations

import gc

from crosscurrent.heap import YOUNG_THRESHOLD, settled_heap


def test_a_settled_heap_freezes_what_is_alive_and_gives_the_collector_back_after() -> None:
    before = gc.get_threshold()
    alive = [[1]]  # tracked, alive throughout

    def watched(thing: object) -> bool:  # in one of the generations the collector walks
        return any(o is thing for o in gc.get_objects())

    with settled_heap():
        young = [[2]]
        assert not watched(alive) and watched(young)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert watched(alive)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_cycles_made_during_the_run_are_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    with settled_heap():
        gc.collect()
        Node()  # unreachable at once, kept alive by its own cycle
        assert gc.collect() > 0

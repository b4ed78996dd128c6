"""The garbage collector's settings for a long run of the pipeline.

Startup builds some 250,000 objects that live as long as the process (the catalog, the
config, pydantic's schemas, the detectors, a demo's tape). CPython's collector walks all of
them at every full collection: here about 80 ms with everything else stopped, three times
per 100,000 events through the detector agent, a fifth of its CPU. Frozen, they are out of
its sight; and the young generation, where the events come and go (most are freed by their
reference counts alone), is collected every 10,000 allocations rather than every 700.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """Collect, freeze what is alive, and collect the young generation less often; on exit,
    the collector as it was (what was frozen is collectable again)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()

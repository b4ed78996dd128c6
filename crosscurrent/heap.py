"""The startup heap kept out of the garbage collector's full collections.

A full collection walks every object the collector tracks. A pipeline process holds some
82,000 from its start (modules, pydantic's schemas, the catalog, the detectors): a walk took
13–16 ms at rest and 42–70 ms at 10,000 events/s, where one came in two of three 10-second
runs and held up every event and alert of the process for that long (docs/benchmarks.md).
Once the process is built, `gc.freeze()` moves what is alive out of every later collection;
what is made afterwards is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Collect what building the process left behind, then freeze the rest: call once, when
    a long-running process is set up and before its work starts."""
    gc.collect()
    gc.freeze()

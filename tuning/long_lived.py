"""Keep Python's cyclic garbage collector off the objects a process keeps until it exits.

A driver or trial process holds a large heap that lives as long as the process: the imported
modules of torch, Ray, pandas and matplotlib and everything they built. Every full (generation 2)
collection walks all of it, and so does the collection at interpreter exit. Measured in
`make smoke` on 2 cores: the driver's nine full collections took 1.42 s and its exit 1.0-1.3 s;
each trial actor spent 0.1-0.37 s in the collector.

`gc.freeze()` moves every object alive at that moment into the permanent generation, which no
collection visits; what is made later is collected as usual. Frozen objects are never freed, so
it is called only where what is alive is meant to stay: after a process's imports (cyclic garbage
the imports left behind is frozen with them, once), again at the start of each later trial of a
reused actor (after collecting what the previous trial left, so none of it is kept), and at the
end of `main` once every file is written.
"""
from __future__ import annotations

import gc


def freeze_long_lived_objects() -> None:
    """Exempt every object alive now from later garbage collections (`gc.freeze`); from the second
    call on, first collect the garbage made since the previous one."""
    if gc.get_freeze_count():
        gc.collect()
    gc.freeze()


def skip_exit_collection() -> None:
    """Exempt every object from the collection at interpreter exit. Call it last, once every file
    is written and closed: the finalisers of cyclic garbage do not run."""
    gc.freeze()

"""What the argument scan costs in the caller, against one C-level pass.

``python bench/scan.py``: for a 10-million-int list and a 1-million-entry
dict with no AsyncValue inside, the time ``inputs.find_inputs`` takes (what
``pool.submit(fn, big)`` spends before it returns) against
``set(map(type, x))``, one C-level pass over the same container (for the
dict, also against that pass over its keys and over its values, which the
scan must both look at); and the
same for ``inputs.plain`` (what a worker spends making such an argument
plain when the task also has an input). Best of 5 each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asynckit.inputs import find_inputs, plain


def best(fn: Callable[[], Any], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    cases = {"list of 10,000,000 ints": list(range(10_000_000)),
             "dict of 1,000,000 int: str": {i: str(i) for i in range(1_000_000)}}
    print(f"{'container':<28} {'reference':>26} {'find_inputs':>12} {'ratio':>6} "
          f"{'plain':>9} {'ratio':>6}")
    for label, big in cases.items():
        references = {"set(map(type, x))": lambda big=big: set(map(type, big))}
        if isinstance(big, dict):
            references["... of keys and of values"] = lambda big=big: (
                set(map(type, big)), set(map(type, big.values())))
        scan = best(lambda big=big: find_inputs((big,), None))
        made_plain = best(lambda big=big: plain(big))
        for name, run in references.items():
            reference = best(run)
            print(f"{label:<28} {name:>26} {reference * 1e3:>6.1f} ms "
                  f"{scan * 1e3:>9.1f} ms {scan / reference:>6.2f} "
                  f"{made_plain * 1e3:>6.1f} ms {made_plain / reference:>6.2f}")


if __name__ == "__main__":
    main()

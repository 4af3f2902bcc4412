"""``python -m asynckit.store PATH [--clear [FUNCTION]]``: list or clear a result store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import Store

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asynckit.store",
        description="List the entries of an asynckit result store per function, "
                    "or clear them.")
    parser.add_argument("path", help="the store's SQLite file")
    parser.add_argument("--clear", nargs="?", const="", default=None, metavar="FUNCTION",
                        help="remove every entry, or only FUNCTION's (module.qualname)")
    options = parser.parse_args(argv)
    if not Path(options.path).is_file():
        parser.error(f"no store at {options.path!r}")
    try:
        store = Store(options.path)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    try:
        if options.clear is not None:
            removed = store.clear(options.clear or None)
            which = f" of {options.clear}" if options.clear else ""
            print(f"removed {removed} entries{which} from {options.path}")
            return 0
        entries = store.entries()
        if not entries:
            print(f"{options.path}: no entries")
            return 0
        width = max(len("function"), *(len(name) for name, _, _ in entries))
        print(f"{'function':<{width}}  {'entries':>8}  {'bytes':>12}")
        for name, count, size in entries:
            print(f"{name:<{width}}  {count:>8}  {size:>12}")
        print(f"{'total':<{width}}  {sum(c for _, c, _ in entries):>8}  "
              f"{sum(s for _, _, s in entries):>12}")
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())

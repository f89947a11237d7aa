"""``python -m benchmarks [--strict] [NAME] [OPTIONS]``: list the benchmarks, or run one (or all).

A benchmark is any public module of this package with a ``main()``; ``NAME`` is its module
name or an unambiguous prefix of it (``catalog`` runs ``catalog_reconcile``). Options after
the name go to that benchmark, which reads them from ``sys.argv`` like any script. The soaks
(``fulfillment_soak``, ``ha_soak``: minutes of SIGKILLs) are left out of "all" and run only when
named: ``python -m benchmarks soak``, ``python -m benchmarks ha-soak``.

Every benchmark prints its targets as :class:`~benchmarks._common.Check` lines (figure,
baseline measured in the same run, target, PASS or FAIL). Run together (``make bench``), every
target is printed again at the end. ``--strict``, before or after ``NAME``, is taken by this
runner: the exit status is then 1 if any target printed FAIL (or a benchmark failed), so one
flag means the same for every benchmark.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks._common import Check, checks_made

_PACKAGE = "benchmarks"
#: Benchmarks that only run when named (by alias or module name): too long for ``make bench``.
ON_REQUEST = {"soak": "fulfillment_soak", "ha-soak": "ha_soak"}


def available() -> list[str]:
    """Names of the benchmark modules, sorted; helpers start with an underscore."""
    here = [str(Path(__file__).parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if not m.name.startswith("_"))


def resolve(name: str, names: Sequence[str]) -> str | None:
    """The benchmark ``name`` means: an exact module name, else the one it prefixes."""
    if name in names:
        return name
    if name in ON_REQUEST:
        return ON_REQUEST[name]
    matches = [n for n in names if n.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def run(name: str, options: Sequence[str]) -> int:
    """Run one benchmark's ``main()`` with ``options`` as its command line."""
    module = importlib.import_module(f"{_PACKAGE}.{name}")
    sys.argv = [f"python -m {_PACKAGE} {name}", *options]
    status = module.main()
    return status if isinstance(status, int) else 0


def run_all(names: Sequence[str]) -> tuple[int, dict[str, list[Check]]]:
    """Run ``names`` one after the other; the worst status and each one's checks."""
    status, checks = 0, {}
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        since = len(checks_made())
        status = max(status, run(name, []))
        checks[name] = checks_made(since)
    return status, checks


def summary(checks: dict[str, list[Check]]) -> str:
    """Every target of every benchmark, and how many were met."""
    lines = ["", "=== every target ==="]
    for name, made in checks.items():
        lines += [f"{name}: {check.line()}" for check in made]
    every = [c for made in checks.values() for c in made]
    lines.append(f"{sum(c.passed for c in every)} of {len(every)} targets met")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """List (``--list``, or an unknown name), run one benchmark, or run all of them."""
    args = list(sys.argv[1:] if argv is None else argv)
    strict = "--strict" in args
    args = [a for a in args if a != "--strict"]
    names = available()
    if args and args[0] in {"--list", "-l", "--help", "-h"}:
        print("benchmarks: " + ", ".join(names))
        print("usage: python -m benchmarks [--strict] [NAME [OPTIONS]]  (NAME --help for options)")
        print("run only when named: " + ", ".join(f"{k} ({v})" for k, v in ON_REQUEST.items()))
        return 0
    if not args:
        status, checks = run_all([n for n in names if n not in ON_REQUEST.values()])
        print(summary(checks))
        missed = not all(c.passed for made in checks.values() for c in made)
        return max(status, 1 if strict and missed else 0)
    name = resolve(args[0], names)
    if name is None:
        print(f"unknown benchmark {args[0]!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    since = len(checks_made())
    status = run(name, args[1:])
    missed = not all(c.passed for c in checks_made(since))
    return max(status, 1 if strict and missed else 0)


if __name__ == "__main__":
    sys.exit(main())

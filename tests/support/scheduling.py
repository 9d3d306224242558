"""How `make test` spreads the suite over pytest-xdist workers (`--dist loadfile`).

Each test file goes to one worker whole, so a module's fixtures (the e2e stack of real
processes, a moto server) start once. A test marked `serial` runs alone: no other test runs
on any worker meanwhile, for the few whose timing a busy neighbour would upset.

(Not `--dist loadgroup` with `xdist_group` marks: on pytest 9.2 xdist 3.8 silently ignores
the groups, pytest-xdist issue #1386.) tests/conftest.py loads this plugin; serially the
`serial` marker changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.xdist import worker_name


def _run_folder(config: pytest.Config) -> Path:
    """A folder of this run shared by its workers: the controller's basetemp, whose
    subfolder gwN each worker's basetemp is."""
    return Path(config.option.basetemp).parent


@contextlib.contextmanager
def _turn(folder: Path, *, alone: bool) -> Iterator[None]:
    """A readers-writer lock across the run's workers, on two flock()ed files: a test marked
    `serial` starts once every running test has ended, and no test starts while it runs.

    Every test holds `running` shared; a serial one holds it exclusive. Tests pass the `gate`
    on their way in, which a waiting serial test holds, so new tests cannot starve it.
    """
    with (folder / "gate.lock").open("a") as gate, (folder / "running.lock").open("a") as running:
        if alone:
            fcntl.flock(gate, fcntl.LOCK_EX)
            fcntl.flock(running, fcntl.LOCK_EX)
        else:
            fcntl.flock(gate, fcntl.LOCK_SH)
            fcntl.flock(running, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(running, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Setup, call and teardown of each test under the run's lock (xdist workers only)."""
    if not worker_name():
        return (yield)
    with _turn(_run_folder(item.config), alone=item.get_closest_marker("serial") is not None):
        return (yield)

"""How `make test` spreads the suite over pytest-xdist workers (`--dist loadfile`).

Each test file goes to one worker whole, so a module's fixtures (the e2e stack of real
processes, a moto server) start once. Files with a test marked `browser` or `e2e` are handed
out first: they take minutes with a handful of tests, and xdist's own order (most tests
first) left them for the end, one worker running them while the other idled. A test marked
`serial` runs alone: no other test runs on any worker meanwhile, for the few whose timing a
busy neighbour would upset.

(Not `--dist loadgroup` with `xdist_group` marks: on pytest 9.2 xdist 3.8 silently ignores
the groups, pytest-xdist issue #1386.) tests/conftest.py loads this plugin; serially the
`serial` marker changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.xdist import worker_name

SLOW_MARKERS = ("browser", "e2e")
SLOW_FILES = "slow-files-{worker}.txt"


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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each worker writes down its slow files for the controller, which knows only test ids:
    before it reports its collection, so the file is there when the controller schedules."""
    if not worker_name():
        return
    slow = sorted({i.nodeid.split("::", 1)[0] for i in items if _is_slow(i)})
    path = _run_folder(config) / SLOW_FILES.format(worker=worker_name())
    path.with_suffix(".tmp").write_text("".join(f"{name}\n" for name in slow))
    os.replace(path.with_suffix(".tmp"), path)


def _is_slow(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in SLOW_MARKERS)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile` with the slow files first (on the controller; xdist's hook)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SlowFilesFirst(LoadFileScheduling):
        """xdist's file scheduling, its queue reordered once before the first file goes out."""

        ordered = False

        def _assign_work_unit(self, node) -> None:  # node: an xdist WorkerController
            if not self.ordered:
                self.ordered = True
                folder = config._tmp_path_factory.getbasetemp()  # as xdist does
                slow = {
                    line
                    for path in folder.glob(SLOW_FILES.format(worker="*"))
                    for line in path.read_text().splitlines()
                }
                # sorted() is stable: within each part, xdist's order (most tests first) stays.
                units = sorted(self.workqueue.items(), key=lambda unit: unit[0] not in slow)
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return SlowFilesFirst(config, log)

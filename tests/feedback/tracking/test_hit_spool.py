"""The hit spool: ordered shipping with stable keys, rotation, retries, and orphan adoption."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mailapp import ROOT
from mailapp.feedback.tracking import hit_spool
from mailapp.feedback.tracking.hit_spool import HitSpool, adopt_orphans, line_key


class Collector:
    """A shipper that keeps what it got, or refuses while `down`."""

    def __init__(self) -> None:
        self.records: list = []
        self.down = False

    def __call__(self, records) -> None:
        if self.down:
            raise ConnectionError("redis is down")
        self.records.extend(records)


def _lines(n: int, start: int = 0) -> list[bytes]:
    return [f'["hit",{i}]\n'.encode() for i in range(start, start + n)]


def test_flush_ships_each_line_once_in_order_with_its_offset_key(tmp_path):
    shipped = Collector()
    spool = HitSpool(tmp_path, shipped, interval=None)
    for line in _lines(3):
        spool.append(line)
    assert spool.flush() == 3
    assert spool.flush() == 0
    (path,) = tmp_path.glob("*.hits")
    token = bytes.fromhex(path.stem)
    assert [line for _, line in shipped.records] == [line[:-1] for line in _lines(3)]
    offsets = [0, len(_lines(1)[0]), 2 * len(_lines(1)[0])]
    assert [key for key, _ in shipped.records] == [line_key(token, o) for o in offsets]


def test_a_refused_shipment_is_shipped_again_with_the_same_keys(tmp_path):
    shipped = Collector()
    spool = HitSpool(tmp_path, shipped, interval=None)
    spool.append(_lines(1)[0])
    shipped.down = True
    with pytest.raises(ConnectionError):
        spool.flush()
    spool.append(_lines(1, start=1)[0])
    shipped.down = False
    assert spool.flush() == 2
    assert [line for _, line in shipped.records] == [b'["hit",0]', b'["hit",1]']


def test_unshipped_bytes_grow_while_redis_is_away_and_drop_once_shipped(tmp_path):
    shipped = Collector()
    spool = HitSpool(tmp_path, shipped, interval=None)
    assert spool.unshipped() == 0  # no file yet
    shipped.down = True
    for line in _lines(4):
        spool.append(line)
    with pytest.raises(ConnectionError):
        spool.flush()
    assert spool.unshipped() == sum(len(line) for line in _lines(4))
    shipped.down = False
    spool.flush()
    assert spool.unshipped() == 0


def test_a_fully_shipped_file_is_replaced_once_it_grew_past_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(hit_spool, "ROTATE_BYTES", 30)
    shipped = Collector()
    spool = HitSpool(tmp_path, shipped, interval=None)
    for line in _lines(4):
        spool.append(line)
    first = next(tmp_path.glob("*.hits"))
    assert spool.flush() == 4
    assert not first.exists()
    for line in _lines(2, start=4):
        spool.append(line)
    assert spool.flush() == 2
    keys = [key for key, _ in shipped.records]
    assert len(set(keys)) == 6
    assert [line for _, line in shipped.records] == [line[:-1] for line in _lines(6)]


def test_the_thread_ships_without_being_asked(tmp_path):
    shipped = Collector()
    spool = HitSpool(tmp_path, shipped, interval=0.01)
    spool.append(_lines(1)[0])
    try:
        deadline = time.monotonic() + 30
        while not shipped.records and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [line for _, line in shipped.records] == [b'["hit",0]']
    finally:
        spool.close()
    assert list(tmp_path.glob("*.hits")) == []  # a clean shutdown leaves no file behind


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mailapp.feedback.tracking.hit_spool import HitSpool
    def refuse(records):
        raise ConnectionError("never ships")
    spool = HitSpool(Path(sys.argv[1]), refuse, interval=None)
    for i in range(5):
        spool.append(b'["hit",%d]\\n' % i)
    os.write(spool._file.fd, b'["torn"')  # a line cut short: never answered
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_the_spool_of_a_killed_process_is_adopted_whole_and_removed(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline() == b"ready\n"
        shipped = Collector()
        # Alive, it holds its file: nobody else may take it.
        assert adopt_orphans(tmp_path, shipped) == 0
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        child.stdout.close()
    (path,) = tmp_path.glob("*.hits")
    token = bytes.fromhex(path.stem)
    assert adopt_orphans(tmp_path, shipped) == 5
    assert [line for _, line in shipped.records] == [b'["hit",%d]' % i for i in range(5)]
    assert shipped.records[0][0] == line_key(token, 0)
    assert not path.exists()
    assert adopt_orphans(tmp_path, shipped) == 0

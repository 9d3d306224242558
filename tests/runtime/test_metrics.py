"""prometheus_client's multiprocess mode as the service uses it: real processes writing to one
directory, added up by one exposition; a previous run's files swept by pid."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailapp import ROOT
from mailapp.runtime import metrics

COUNT = """
import sys
from mailapp.runtime import metrics
from mailapp.mail.transports import SendResult
for code in map(int, sys.argv[1:]):
    metrics.record_handover("campaign", SendResult("sent" if code < 300 else "failed", code, ""), 0)
"""


def count_in_a_process(folder, *codes: int) -> int:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", COUNT + "print(__import__('os').getpid())", *map(str, codes)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip())


def handed_over(text: str) -> dict[tuple, float]:
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "mailapp_messages_handed_over"
    ]
    return {
        (s.labels["outcome"], s.labels["reply_class"]): s.value
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_every_process_counts_and_the_exposition_adds_them_up(tmp_path):
    folder = tmp_path / "metrics"  # created by the first process that counts
    count_in_a_process(folder, 250, 250, 550)
    count_in_a_process(folder, 250)
    text = metrics.exposition(str(folder)).decode()
    assert handed_over(text) == {("sent", "2xx"): 3, ("failed", "5xx"): 1}


def test_a_previous_runs_files_are_swept_and_live_processes_keep_theirs(tmp_path):
    folder = tmp_path / "metrics"
    dead = count_in_a_process(folder, 250, 250)
    mine = folder / f"counter_{os.getpid()}.db"
    mine.write_bytes((folder / f"counter_{dead}.db").read_bytes())
    assert metrics.sweep_dead_files(str(folder)) >= 1
    assert not (folder / f"counter_{dead}.db").exists()
    assert mine.exists()
    assert handed_over(metrics.exposition(str(folder)).decode()) == {("sent", "2xx"): 2}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, "2xx"),
        (421, "4xx"),
        (451, "4xx"),
        (550, "5xx"),
        (None, "connection"),
        (0, "connection"),
    ],
)
def test_reply_class(code, expected):
    assert metrics.reply_class(code) == expected

"""Scoring how returned mail was read against the sisimai corpus's labels.csv.

Verdicts: hard, not-hard (soft, unknown, delay), complaint, not-a-failure (auto-replies,
ordinary mail). Where sisimai says `filtered` and we read a plain "user unknown", either
verdict counts as right (the corpus README says so). A labelled address we do not find is
judged by the message's own classification: with VERP that is what the delivery gets.
Used by bench/bench_returns.py (through `flask bounces ingest`) and by the corpus test.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mailapp.feedback.returns import bounces
from tests.support.corpus import CORPUS

SISIMAI = CORPUS / "sisimai"
VERDICT = {
    bounces.HARD: "hard",
    bounces.SOFT: "not-hard",
    bounces.UNKNOWN: "not-hard",
    bounces.DELAY: "not-hard",
    bounces.COMPLAINT: "complaint",
    bounces.AUTO_REPLY: "not-a-failure",
}


@dataclass
class Figures:
    """The measures the issue sets targets for, and every miss spelled out."""

    messages: int = 0
    labelled: int = 0
    found: int = 0
    judged: int = 0
    agree: int = 0
    true_hard: int = 0
    false_hard: int = 0
    missed_hard: int = 0
    confusion: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def pct(part: int, whole: int) -> float:
        return 100 * part / whole if whole else 0.0

    @property
    def found_pct(self) -> float:
        return self.pct(self.found, self.labelled)

    @property
    def agreement_pct(self) -> float:
        return self.pct(self.agree, self.judged)

    @property
    def precision_pct(self) -> float:
        return self.pct(self.true_hard, self.true_hard + self.false_hard)

    @property
    def recall_pct(self) -> float:
        return self.pct(self.true_hard, self.true_hard + self.missed_hard)


def corpus_files() -> list[Path]:
    return sorted((SISIMAI / "maildir").rglob("*.eml"))


def load_labels() -> dict[str, list[dict[str, str]]]:
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    with open(SISIMAI / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_file[row["file"]].append(row)
    return by_file


def expected_verdict(row: dict[str, str], name: str, rows: int) -> str | None:
    """sisimai's call as one of our four verdicts; None where it gave none."""
    reason = row["sisimai_reason"]
    if reason == "feedback":
        return "complaint"
    if reason == "vacation":
        return "not-a-failure"
    if reason:
        return "hard" if row["hardbounce"] == "True" else "not-hard"
    # A file sisimai read as no bounce at all.
    return "not-a-failure" if rows == 1 and name.startswith("maildir/not") else None


def score(results: dict[str, tuple[str, bounces.Report]]) -> Figures:
    """Figures for {corpus file: (classification stored, report)} against the labels."""
    labels = load_labels()
    figures = Figures(messages=len(results))
    for name, (stored, report) in sorted(results.items()):
        ours = {}
        for r in report.recipients:
            names = (getattr(r, "final", None), r.original, r.address)
            ours.update({a.lower(): r for a in names if a})
        # An unsubscribe by mail is what sisimai files as feedback (opt-out).
        overall = "complaint" if stored == "unsubscribe" else VERDICT.get(stored, "not-a-failure")
        if stored == bounces.UNKNOWN and not report.failed():
            overall = "not-a-failure"  # kept, names no failed address: nothing is applied
        rows = labels.get(name) or [{"recipient": "", "sisimai_reason": "", "hardbounce": ""}]
        for label in rows:
            _judge(figures, name, label, ours, overall, stored, len(rows))
    return figures


def _judge(figures: Figures, name: str, label: dict, ours: dict, overall: str, stored: str,
           rows: int) -> None:  # fmt: skip
    address = label["recipient"].lower()
    recipient = ours.get(address)
    if address:
        figures.labelled += 1
        figures.found += recipient is not None
        if recipient is None:
            figures.notes.append(f"not found {name} {address} (we have {sorted(ours)})")
    want = expected_verdict(label, name, rows)
    if want is None:
        return
    got = VERDICT.get(recipient.classification, "not-hard") if recipient else overall
    if stored == "unsubscribe":
        got = overall
    reason = getattr(recipient, "reason", None)
    either = label["sisimai_reason"] == "filtered" and reason == "user_unknown"
    right = got == want or (either and {got, want} == {"hard", "not-hard"})
    figures.judged += 1
    figures.confusion[(want, got)] += 1
    figures.agree += right
    if got == "hard" and want != "hard" and not right:
        figures.false_hard += 1
    elif got == "hard":
        figures.true_hard += 1
    if want == "hard" and got != "hard" and not right:
        figures.missed_hard += 1
    if not right:
        detail = recipient.diagnostic if recipient else stored
        figures.notes.append(
            f"{want:>13} got {got:<13} {name} {address} [{label['sisimai_reason']}/"
            f"{label.get('dsn_status', '')}] {reason or ''} {str(detail)[:150]}"
        )

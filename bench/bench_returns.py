"""How well returned mail is read: the shared sisimai corpus through `flask bounces ingest`.

Every message of ../shared/corpus/sisimai/maildir is piped to the real command (its exit
code and the stored InboundMessage are what count), then each failed recipient sisimai
labelled is compared with what we found. Prints figures, asserts nothing.

    .venv/bin/python bench/bench_returns.py [--list]   (--list prints every disagreement)

Verdicts: hard, not-hard (soft, unknown, delay), complaint, not-a-failure (auto-replies,
ordinary mail). Where sisimai says `filtered` but we read a plain "user unknown", either
verdict counts as right (the corpus README says so). A labelled address we do not find is
judged by the message's own classification: with VERP that is what the delivery gets.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

from flask_migrate import upgrade

from mailapp import create_app
from mailapp.extensions import db
from mailapp.feedback.returns import bounces
from mailapp.models import InboundMessage
from tests.conftest import app_config
from tests.support.corpus import CORPUS

SISIMAI = CORPUS / "sisimai"
VERDICT = {
    bounces.HARD: "hard",
    bounces.SOFT: "not-hard",
    bounces.UNKNOWN: "not-hard",
    bounces.DELAY: "not-hard",
    bounces.COMPLAINT: "complaint",
    bounces.AUTO_REPLY: "not-a-failure",
    "unsubscribe": "not-a-failure",
}


def expected_verdict(row: dict[str, str]) -> str | None:
    """sisimai's call as one of our four verdicts; None where it gave none."""
    reason = row["sisimai_reason"]
    if reason == "feedback":
        return "complaint"
    if reason == "vacation":
        return "not-a-failure"
    if not reason:
        return None
    return "hard" if row["hardbounce"] == "True" else "not-hard"


def load_labels() -> dict[str, list[dict[str, str]]]:
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    with open(SISIMAI / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_file[row["file"]].append(row)
    return by_file


def ingest_all(app, files: list[Path]) -> tuple[dict[str, tuple[int, InboundMessage | None]], int]:
    """Pipe each file to `flask bounces ingest`; its exit code and the row it stored."""
    runner = app.test_cli_runner()
    results = {}
    crashes = 0
    for path in files:
        with app.app_context():
            before = db.session.scalar(db.select(db.func.max(InboundMessage.id))) or 0
            result = runner.invoke(args=["bounces", "ingest"], input=path.read_bytes())
            if result.exception and not isinstance(result.exception, SystemExit):
                crashes += 1
            row = db.session.scalar(db.select(InboundMessage).where(InboundMessage.id > before))
            if row is not None:
                db.session.expunge(row)
        results[str(path.relative_to(SISIMAI))] = (result.exit_code, row)
    return results, crashes


def main() -> None:
    show = "--list" in sys.argv
    logging.getLogger("flufl.bounce").setLevel(logging.WARNING)
    files = sorted((SISIMAI / "maildir").rglob("*.eml"))
    labels = load_labels()
    instance = Path(tempfile.mkdtemp(prefix="bench-returns-"))
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app(app_config(f"sqlite:///{instance / 'returns.db'}", redis_url, instance))
    with app.app_context():
        upgrade()
    results, crashes = ingest_all(app, files)
    exits = Counter(code for code, _ in results.values())
    kept = sum(1 for _, row in results.values() if row is not None)

    found = labelled = agree = judged = 0
    true_hard = false_hard = missed_hard = 0
    confusion: Counter[tuple[str, str]] = Counter()
    notes = []
    for name, (_, row) in results.items():
        report = bounces.parse_report(row.raw) if row is not None else None
        ours = {}
        for r in report.recipients if report else ():
            ours.update({a.lower(): r for a in (r.final, r.original, r.address) if a})
        stored = row.classification if row is not None else "crash"
        # An unsubscribe by mail is what sisimai files as feedback (opt-out).
        overall = "complaint" if stored == "unsubscribe" else VERDICT.get(stored, "not-a-failure")
        if stored == bounces.UNKNOWN and report is not None and not report.failed():
            overall = "not-a-failure"  # kept, names no failed address: nothing is applied
        rows = labels.get(name) or [{"recipient": "", "sisimai_reason": "", "hardbounce": ""}]
        for label in rows:
            address = label["recipient"].lower()
            recipient = ours.get(address)
            if address:
                labelled += 1
                found += recipient is not None
            if address and recipient is None:
                notes.append(f"not found {name} {address} (we have {sorted(ours)})")
            want = expected_verdict(label)
            if want is None and not label["recipient"] and not rows[0]["sisimai_reason"]:
                want = (
                    "not-a-failure" if len(rows) == 1 and name.startswith("maildir/not") else None
                )
            if want is None:
                continue
            got = VERDICT.get(recipient.classification, "not-hard") if recipient else overall
            if stored == "unsubscribe":
                got = overall
            reason = getattr(recipient, "reason", None) if recipient else None
            either = label["sisimai_reason"] == "filtered" and reason == "user_unknown"
            judged += 1
            confusion[(want, got)] += 1
            right = got == want or (either and {got, want} == {"hard", "not-hard"})
            agree += right
            if got == "hard" and want != "hard" and not right:
                false_hard += 1
            elif got == "hard":
                true_hard += 1
            if want == "hard" and got != "hard" and not right:
                missed_hard += 1
            if not right:
                detail = recipient.diagnostic if recipient else report and report.classification
                notes.append(
                    f"{want:>13} got {got:<13} {name} {address} "
                    f"[{label['sisimai_reason']}/{label.get('dsn_status', '')}] "
                    f"{reason or ''} {str(detail)[:150]}"
                )

    def pct(part: int, whole: int) -> str:
        return f"{100 * part / whole:5.1f}% ({part}/{whole})" if whole else "  n/a"

    print(f"messages: {len(files)}, stored: {kept}, crashes: {crashes}, exit codes: {dict(exits)}")
    print(f"recipients found:  {pct(found, labelled)}")
    print(f"agreement:         {pct(agree, judged)}")
    print(f"hard precision:    {pct(true_hard, true_hard + false_hard)}")
    print(f"hard recall:       {pct(true_hard, true_hard + missed_hard)}")
    print(f"false hard: {false_hard}, missed hard: {missed_hard}")
    print(
        "sisimai -> ours:", ", ".join(f"{w}->{g}: {n}" for (w, g), n in sorted(confusion.items()))
    )
    if show:
        print("\n".join(sorted(notes)))


if __name__ == "__main__":
    main()

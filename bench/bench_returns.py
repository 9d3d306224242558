"""How well returned mail is read: the shared sisimai corpus through `flask bounces ingest`.

Every message of ../shared/corpus/sisimai/maildir is piped to the real command in a
throwaway SQLite database; its exit code and the InboundMessage it stored are what count.
Then each failed recipient sisimai labelled is compared with what was found
(tests/support/returns_score.py says how). Prints figures, asserts nothing.

    .venv/bin/python bench/bench_returns.py [--list]   (--list prints every miss)
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DRAMATIQ_BROKER", "stub")

from flask_migrate import upgrade

from mailapp import create_app
from mailapp.extensions import db
from mailapp.feedback.returns import bounces
from mailapp.models import InboundMessage
from tests.conftest import app_config
from tests.support.returns_score import SISIMAI, corpus_files, score


def ingest_all(app, files: list[Path]) -> tuple[dict, Counter, int]:
    """Pipe each file to `flask bounces ingest`: {file: (classification, report)}."""
    runner = app.test_cli_runner()
    results = {}
    exits: Counter[int] = Counter()
    crashes = 0
    for path in files:
        with app.app_context():
            before = db.session.scalar(db.select(db.func.max(InboundMessage.id))) or 0
            result = runner.invoke(args=["bounces", "ingest"], input=path.read_bytes())
            exits[result.exit_code] += 1
            if result.exception and not isinstance(result.exception, SystemExit):
                crashes += 1
            row = db.session.scalar(db.select(InboundMessage).where(InboundMessage.id > before))
            if row is None:
                crashes += 1
                continue
            # The recipients as the ingest path read them from the bytes it stored.
            results[str(path.relative_to(SISIMAI))] = (
                row.classification,
                bounces.parse_report(row.raw),
            )
    return results, exits, crashes


def main() -> None:
    logging.getLogger("flufl.bounce").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    files = corpus_files()
    instance = Path(tempfile.mkdtemp(prefix="bench-returns-"))
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app(app_config(f"sqlite:///{instance / 'returns.db'}", redis_url, instance))
    with app.app_context():
        upgrade()
    results, exits, crashes = ingest_all(app, files)
    f = score(results)

    def pct(part: int, whole: int) -> str:
        return f"{100 * part / whole:5.1f}% ({part}/{whole})" if whole else "  n/a"

    print(f"returned mail: {len(files)} messages of {SISIMAI}")
    print(f"stored: {len(results)}, crashes: {crashes}, exit codes: {dict(exits)}")
    print(f"recipients found:  {pct(f.found, f.labelled)}")
    print(f"agreement:         {pct(f.agree, f.judged)}")
    print(f"hard precision:    {pct(f.true_hard, f.true_hard + f.false_hard)}")
    print(f"hard recall:       {pct(f.true_hard, f.true_hard + f.missed_hard)}")
    print(f"false hard: {f.false_hard}, missed hard: {f.missed_hard}")
    print(
        "sisimai -> ours:", ", ".join(f"{w}->{g}: {n}" for (w, g), n in sorted(f.confusion.items()))
    )
    if "--list" in sys.argv:
        print("\n".join(sorted(f.notes)))


if __name__ == "__main__":
    main()

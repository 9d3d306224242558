"""Where the real bounce and complaint messages are: never copied into this repository."""

from __future__ import annotations

import os
from pathlib import Path

from mailapp import ROOT

# ../shared/corpus next to the repository (a git worktree sits one level deeper); a clone
# elsewhere names it with MAILAPP_CORPUS, or finds the team's checkout at /work/shared.
PLACES = [
    *(p / "shared" / "corpus" for p in ROOT.parents),
    *([Path(os.environ["MAILAPP_CORPUS"])] if os.environ.get("MAILAPP_CORPUS") else []),
    Path("/work/shared/corpus"),
]
CORPUS = next((p for p in PLACES if p.is_dir()), None)
if CORPUS is None:
    raise RuntimeError(
        f"the bounce corpus is missing: put ../shared/corpus beside {ROOT} or set MAILAPP_CORPUS"
    )
FLUFL = CORPUS / "flufl.bounce"
FLANKER = CORPUS / "flanker"

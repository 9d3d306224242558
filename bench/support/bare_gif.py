"""The baseline of bench_tracking: a bare Flask view returning the same GIF and headers.

`gunicorn bench.bare_gif:app` under the same settings as the real app, so the difference
measured is what mailapp adds (token check, agent classification, buffering, the click's
link lookup), not the server.
"""

from flask import Flask, Response

from mailapp.feedback.tracking.hits import PIXEL_GIF
from mailapp.web.tracking import NO_CACHE

app = Flask(__name__)


@app.get("/t/o/<path:token>")
def pixel(token: str) -> Response:
    return Response(PIXEL_GIF, mimetype="image/gif", headers=NO_CACHE)

import redis

from mailapp.runtime.health import beat
from tests.conftest import app_config
from tests.support.servers import free_port


def test_health_names_missing_worker_and_scheduler(client):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["worker", "scheduler"]
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_is_200_when_every_part_beats(client, redis_url):
    connection = redis.Redis.from_url(redis_url)
    beat(connection, "worker", "host:1")
    beat(connection, "scheduler", "host:2")
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["down"]) == ("ok", [])
    assert body["worker"]["last_heartbeat_age"] < 5


def test_stale_heartbeat_counts_as_down(client, redis_url):
    connection = redis.Redis.from_url(redis_url)
    connection.hset("mailapp:heartbeats", "worker:old", 1.0)
    beat(connection, "scheduler", "host:2")
    assert client.get("/health").get_json()["down"] == ["worker"]


def test_health_names_unreachable_redis(database_url, tmp_path):
    from mailapp import create_app
    from mailapp.extensions import db

    app = create_app(app_config(database_url, f"redis://127.0.0.1:{free_port()}/0", tmp_path))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["redis", "worker", "scheduler"]
    with app.app_context():
        db.engine.dispose()

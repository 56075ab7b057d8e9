"""A real IMAP server on loopback: Debian's Dovecot (`apt-get install dovecot-imapd`), started
by the tests with a generated configuration in a temporary folder, never the system service.

One user (`bounces` / a random password) from a passwd-file, a Maildir in the same folder,
plain IMAP (STARTTLS offered) and implicit TLS on two free loopback ports, with the test
certificate of the SMTP fakes. As root, Dovecot refuses to run its login processes as root:
they run as Debian's `dovenull` and the mail as `dovecot`; otherwise all as the current user.

Without /usr/sbin/dovecot the fixture skips with that reason, except under CI=true, where it
fails (`.ci/run` installs it).
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import HOST, TLSFiles

DOVECOT = Path("/usr/sbin/dovecot")
USER = "bounces"
START_TIMEOUT = 15.0  # seconds for Dovecot to listen; it takes about one on a quiet machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class DovecotServer:
    def __init__(self, tls: TLSFiles) -> None:
        self.tls = tls
        self.host = HOST
        self.username = USER
        self.password = secrets.token_urlsafe(12)
        self.port = _free_port()  # plain IMAP, STARTTLS offered
        self.tls_port = _free_port()  # implicit TLS
        # Not under pytest's tmp_path: its parent is 0700, and as root the login and mail
        # processes run as other users that must reach the sockets and the Maildir.
        self.root = Path(tempfile.mkdtemp(prefix="comms-dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> DovecotServer:
        self.root.chmod(0o755)
        self._write_config()
        self._process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self.client().logout()
                return self
            time.sleep(0.1)  # waiting for a real server to come up, bounded by START_TIMEOUT
        self.stop()
        raise RuntimeError(f"dovecot did not answer within {START_TIMEOUT:g} s:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"

    def _write_config(self) -> None:
        as_root = os.geteuid() == 0
        me = pwd.getpwuid(os.geteuid()).pw_name
        my_group = grp.getgrgid(os.getegid()).gr_name
        login_user = "dovenull" if as_root else me
        internal_user, internal_group = ("dovecot", "dovecot") if as_root else (me, my_group)
        mail_owner = pwd.getpwnam("dovecot") if as_root else pwd.getpwuid(os.geteuid())
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, mail_owner.pw_uid, mail_owner.pw_gid)
        (self.root / "run").mkdir()
        (self.root / "state").mkdir()
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{self.password}:{mail_owner.pw_uid}:{mail_owner.pw_gid}::{mail}/{USER}\n"
        )
        (self.root / "dovecot.conf").write_text(
            f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{self.tls.cert_path}
ssl_key = <{self.tls.key_path}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
}}
mail_location = maildir:{mail}/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""
        )

    # -- what the test does ----------------------------------------------------------------

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=5)
        client.login(self.username, self.password)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into the mailbox, as the mail system would (IMAP APPEND)."""
        client = self.client()
        try:
            client.create(folder)  # NO when it exists
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> list[set[str]]:
        """Each message's flags and keywords in the folder, in order."""
        client = self.client()
        try:
            status, data = client.select(folder, readonly=True)
            if status != "OK" or data[0] == b"0":
                return []
            status, data = client.fetch("1:*", "(FLAGS)")
            found = [re.search(rb"FLAGS \(([^)]*)\)", item) for item in data if isinstance(item, bytes)]
            return [set(m[1].decode().split()) for m in found if m]
        finally:
            client.logout()


@pytest.fixture(scope="session")
def dovecot_available() -> None:
    if not DOVECOT.exists():
        reason = f"{DOVECOT} is missing (apt-get install -y dovecot-imapd)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the IMAP tests")
        pytest.skip(reason)


@pytest.fixture
def imap_server(dovecot_available: None, smtp_certificate: TLSFiles) -> Iterator[DovecotServer]:
    server = DovecotServer(smtp_certificate).start()
    try:
        yield server
    finally:
        server.stop()

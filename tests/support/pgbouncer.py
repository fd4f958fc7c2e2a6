"""PgBouncer in transaction pooling mode (Debian's package), of a test's own,
in front of a PostgreSQL: what managed PostgreSQL usually puts before the
service. Its pool lends one server connection to many clients, one
transaction at a time, and refuses startup options.

Started as the `postgres` user when the tests run as root (PgBouncer refuses
root), on a free loopback port, with a trust login for the user the tests
connect as. `python -m tests.support.pgbouncer check` proves it can start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

from tests.support.polling import poll
from tests.support.services import free_port, unavailable

BINARY = "pgbouncer"
APPLICATION = "pgbouncer-of-the-tests"


class PgBouncer:
    def __init__(self, target_url: str) -> None:
        """target_url: any URL of the PostgreSQL to pool (its host and port).
        Its files live in a directory of its own under the system's temp
        directory: a test's tmp_path is not open to the postgres user."""
        binary = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin")
        if binary is None:
            unavailable("PgBouncer", "pgbouncer is not installed (Debian's pgbouncer)")
        self._binary = str(binary)
        self._directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self._directory.chmod(0o755)
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 5432)
        self._user = target.username or "postgres"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """database_url, reached through this PgBouncer."""
        parts = urlsplit(database_url)
        return parts._replace(netloc=f"{self._user}@127.0.0.1:{self.port}").geturl()

    def start(self) -> None:
        (self._directory / "userlist.txt").write_text(f'"{self._user}" ""\n')
        host, port = self._target
        config = self._directory / "pgbouncer.ini"
        config.write_text(
            # Its server connections say whose they are (pg_stat_activity).
            f"[databases]\n* = host={host} port={port} application_name={APPLICATION}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self._directory / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 2000\ndefault_pool_size = 20\n"
            f"logfile = {self._directory / 'pgbouncer.log'}\n"
            f"pidfile = {self._directory / 'pgbouncer.pid'}\n"
            f"admin_users = {self._user}\n"
        )
        as_user = []
        if os.geteuid() == 0:  # PgBouncer will not run as root
            owner = pwd.getpwnam("postgres")
            for path in (self._directory, *self._directory.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            as_user = ["-u", "postgres"]
        self._process = subprocess.Popen(
            [self._binary, *as_user, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self._directory / "stderr.log").open("ab"),
        )
        poll(self._answers, within=15, what=f"PgBouncer on {self.port}")

    def _answers(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(f"pgbouncer exited: {self.log()}")
        try:
            psycopg2.connect(
                self.url("postgresql:///postgres"), connect_timeout=2
            ).close()
        except psycopg2.OperationalError:
            return False
        return True

    def log(self) -> str:
        found = [self._directory / "pgbouncer.log", self._directory / "stderr.log"]
        return "\n".join(p.read_text()[-2000:] for p in found if p.exists())

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        shutil.rmtree(self._directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    """check: start one before the local PostgreSQL, query through it, stop."""
    if argv != ["check"]:
        sys.exit("usage: python -m tests.support.pgbouncer check")
    target = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    bouncer = PgBouncer(target)
    try:
        bouncer.start()
        with psycopg2.connect(bouncer.url(target)) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            print(f"PgBouncer on 127.0.0.1:{bouncer.port}: {cursor.fetchone()}")
    finally:
        bouncer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A PostgreSQL primary and its streaming replica, made as an operator makes them, for the tests
and the province bench.

The replica is `pg_basebackup -R` of the primary, started with the installed PostgreSQL 15
binaries on a free port in a folder of its own. A server whose pg_hba.conf has no `replication`
line refuses that (Debian's default allows it over the local socket only); then `make` starts a
primary of its own with `initdb` (whose default pg_hba.conf allows replication from 127.0.0.1)
and makes the replica from that one, so the replication itself is always real.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
SHARED = "postgresql://postgres@127.0.0.1:5432"


def available() -> bool:
    """Whether the binaries a pair needs are installed."""
    return (BIN / "pg_basebackup").exists() and (BIN / "initdb").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command, **kw):
    return subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=120, **kw)


class Cluster:
    """One PostgreSQL server in a folder of its own; `fsync` off unless asked (a test's data is
    thrown away, a bench's timing wants the disk as a server has it)."""

    def __init__(self, folder: Path, port: int, *, fsync: bool = False):
        self.folder, self.port, self.fsync = folder, port, fsync

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        if not self.fsync:
            options += " -c fsync=off"
        done = _run([str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
                     "-o", options, "start"])
        assert done.returncode == 0, done.stderr + (self.folder / "log").read_text()

    def stop(self) -> None:
        _run([str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"])


def _base_backup(source_url: str, folder: Path) -> subprocess.CompletedProcess:
    host, port = source_url.rsplit("@", 1)[1].split(":")
    return _run([str(BIN / "pg_basebackup"), "-h", host, "-p", port, "-U", "postgres",
                 "-D", str(folder / "data"), "-R", "-X", "stream", "-c", "fast", "--no-sync"])


def _private_folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


@dataclass
class Pair:
    """A primary (`primary_url`, without a database) and its running replica."""

    root: Path
    primary_url: str
    replica: Cluster
    own_primary: Cluster | None  # None: the replica streams from `source` itself

    def stop(self) -> None:
        """Stop the replica (and the primary made for it); the folder is removed in the background."""
        self.replica.stop()
        if self.own_primary:
            self.own_primary.stop()
        subprocess.Popen(["rm", "-rf", str(self.root)])  # a few seconds on a slow disk: not waited for


def make(root: Path, source: str = SHARED, *, fsync: bool = False, primary_conf: str = "") -> Pair:
    """Start a replica of `source` (or, if it refuses replication, of a primary made for it, with
    `primary_conf` appended to its postgresql.conf) in `root`, an empty folder."""
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    own_primary = None
    primary_url = source
    replica = Cluster(_private_folder(root, "replica"), _free_port(), fsync=fsync)
    made = _base_backup(source, replica.folder)
    if made.returncode != 0:
        own_primary = Cluster(_private_folder(root, "primary"), _free_port(), fsync=fsync)
        initdb = _run([str(BIN / "initdb"), "-D", str(own_primary.folder / "data"), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        assert initdb.returncode == 0, initdb.stderr
        if primary_conf:
            with open(own_primary.folder / "data" / "postgresql.conf", "a") as conf:
                conf.write("\n" + primary_conf + "\n")
        own_primary.start()
        primary_url = own_primary.url
        shutil.rmtree(replica.folder / "data", ignore_errors=True)
        made = _base_backup(primary_url, replica.folder)
        assert made.returncode == 0, made.stderr
    data = replica.folder / "data"
    for name, content in (("postgresql.conf", "hot_standby = on\n"),
                          ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
                          ("pg_ident.conf", "")):
        if not (data / name).exists():
            (data / name).write_text(content)
            if os.geteuid() == 0:
                shutil.chown(data / name, "postgres", "postgres")
    replica.start()
    return Pair(root, primary_url, replica, own_primary)

"""Dedicated server instances for fault tests: started by the test on a free loopback
port, killed (SIGKILL), frozen (SIGSTOP), thawed and restarted on the same port.

The commands are those of scripts/servers/*.sh (SecantusDB from the venv, the
DynamoDB Local and Firestore emulator jars, whose paths those scripts export as
``DYNAMODB_LOCAL_JAR`` and ``FIRESTORE_EMULATOR_JAR``). SecantusDB and DynamoDB Local
keep their data in a directory of the test, so a restarted server has it again; the
Firestore emulator keeps nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _http_ok(url: str, statuses: tuple[int, ...]) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status in statuses
    except urllib.error.HTTPError as err:
        return err.code in statuses
    except OSError:
        return False


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


class FaultServer:
    """One server process the test owns: ``start``, ``kill``, ``freeze``/``thaw``,
    ``restart`` (same port, same data directory), ``stop`` (always called)."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"
        self.starts = 0

    # -- what each server defines --------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=self.workdir, env=self.env(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up: {self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT} s: "
                                   f"{self.tail()}")
            time.sleep(0.05)
        self.starts += 1

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the server (and anything it started), and wait until it is gone."""
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: the port stays open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


class MongoServer(FaultServer):
    """SecantusDB (the MongoDB wire protocol) on WiredTiger files in the test's directory."""

    name = "mongodb"

    def command(self) -> list[str]:
        binary = Path(sys.executable).parent / "secantusd-py"
        return [str(binary), "--host", LOOPBACK, "--port", str(self.port), "--storage-path",
                str(self.data), "--sync-on-commit", "--log-level", "WARNING"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self.workdir), "PYTHONUNBUFFERED": "1"}

    def ready(self) -> bool:
        if not _port_open(self.port):
            return False
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]] = MongoClient(
            host=LOOPBACK, port=self.port, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except Exception:
            return False
        finally:
            client.close()

    @property
    def uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.port}/?directConnection=true"


def _java() -> str:
    java = os.environ.get("CROSSQL_JAVA") or (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME")
        else shutil.which("java"))
    if not java:
        raise RuntimeError("java not found (scripts/servers need a JRE >= 17)")
    return java


class DynamoServer(FaultServer):
    """DynamoDB Local with its database file in the test's directory. It listens on every
    interface: only start it inside the private network namespace."""

    name = "dynamodb"

    def command(self) -> list[str]:
        jar = Path(os.environ["DYNAMODB_LOCAL_JAR"])
        return [_java(), f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar",
                str(jar), "-sharedDb", "-dbPath", str(self.data), "-disableTelemetry",
                "-port", str(self.port)]

    def ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.port}/", (200, 400))

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


class FirestoreServer(FaultServer):
    """The Firestore emulator (it keeps nothing across a restart)."""

    name = "firestore"

    def command(self) -> list[str]:
        return [_java(), "-Duser.language=en", "-cp", os.environ["FIRESTORE_EMULATOR_JAR"],
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
                f"--host={LOOPBACK}", f"--port={self.port}"]

    def ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.port}/", (200,))

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def requirements(name: str) -> str | None:
    """Why a dedicated ``name`` server cannot be started here, or None."""
    if name == "mongodb":
        if not (Path(sys.executable).parent / "secantusd-py").exists():
            return "secantusd-py is not in the venv (scripts/servers/mongodb.sh install)"
        return None
    if name == "dynamodb":
        if os.environ.get("CROSSQL_IN_NETNS") != "1":
            return ("DynamoDB Local listens on all interfaces: its fault tests run only in the "
                    "private network namespace of scripts/servers/with-servers.sh")
        if not Path(os.environ.get("DYNAMODB_LOCAL_JAR", "/nonexistent")).exists():
            return "DYNAMODB_LOCAL_JAR is not set (scripts/servers/dynamodb.sh env exports it)"
        return None
    if not Path(os.environ.get("FIRESTORE_EMULATOR_JAR", "/nonexistent")).exists():
        return "FIRESTORE_EMULATOR_JAR is not set (scripts/servers/firestore.sh env exports it)"
    return None


SERVERS: dict[str, Callable[[Path], FaultServer]] = {
    "mongodb": MongoServer, "dynamodb": DynamoServer, "firestore": FirestoreServer,
}

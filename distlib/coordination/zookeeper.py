"""The real thing beside the simulator: Apache ZooKeeper (Debian's 3.8) and the same recipes with kazoo.

Hunt et al., "ZooKeeper: wait-free coordination for Internet-scale systems" (USENIX ATC 2010): no
lock API — znodes (regular or *ephemeral*, optionally *sequential*), watches, and sessions; locks
and leader election are client-side recipes. The recipes here mirror chapter 08's simulated cell:

* :func:`elect_primary` — the paper's herd-free election: each candidate creates an ephemeral
  sequential znode; the lowest is primary; each other watches only its predecessor.
* :func:`watch_and_sync` — a data watch fires once on a change; ``sync`` before a read (reads are
  served by the server a client is connected to and are not linearizable by default).
* :func:`expiry_releases_lock` — a session's expiry deletes its ephemeral znodes, releasing a lock.
* :func:`fenced_writes` — the lock znode's creation zxid (``czxid``) as the fencing token: a holder
  whose session expired writes late with an older token and is rejected; the znode ``version``
  makes a conditional write (``set(..., version=v)``) fail when someone wrote in between.

:class:`ZooKeeperServer` starts a standalone server as a child process on 127.0.0.1 (free port,
temp dataDir, ``tickTime=500`` so sessions can be as short as 1 s), waits until ``srvr`` reports a
``Mode:`` (``ruok`` answers before the server serves), and stops it with SIGTERM. Observed facts:
``../shared/ENGINE-FIELD-NOTES.md`` §1. ``python -m distlib.coordination.zookeeper`` (``make
zookeeper``) starts one for students and prints its address.

kazoo is imported lazily: the simulator never needs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import threading
import time
from typing import Any

from distlib.childserver import ChildServer, free_port  # noqa: F401 (free_port: re-export)

JAR = "/usr/share/java/zookeeper.jar"
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def java() -> str | None:
    return shutil.which("java")


def available() -> bool:
    """True if Debian's ``zookeeper`` package (its jar) and a Java runtime are installed."""
    return os.path.exists(JAR) and java() is not None


def four_letter(port: int, word: str, timeout: float = 1.0) -> str:
    """Send a four-letter command (``ruok``, ``srvr``, ``mntr``, ``stat``) and return the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            data = s.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


class ZooKeeperServer(ChildServer):
    """A standalone ZooKeeper on 127.0.0.1:<free port> with its own data dir; a context manager."""

    name = "zookeeper"

    def __init__(self, *, tick_ms: int = 500, ready_timeout: float = 30.0, heap: str = "128m"):
        super().__init__(ready_timeout=ready_timeout)
        self.hosts = f"127.0.0.1:{self.port}"
        (self.dir / "data").mkdir()
        (self.dir / "zoo.cfg").write_text(
            f"tickTime={tick_ms}\ndataDir={self.dir / 'data'}\nclientPort={self.port}\n"
            f"clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
            f"4lw.commands.whitelist=ruok,srvr,mntr,stat\n")
        self.heap = heap

    def start(self) -> ZooKeeperServer:
        jvm = java()
        if jvm is None or not os.path.exists(JAR):
            raise RuntimeError(f"ZooKeeper needs java and {JAR} (apt-get install -y --no-install-recommends "
                               f"zookeeper)")
        self.args = [jvm, f"-Xmx{self.heap}", "-cp", JAR, MAIN, str(self.dir / "zoo.cfg")]
        return super().start()

    def ready(self) -> bool:
        # "imok" comes before the server serves; srvr's "Mode:" line means it does.
        return "Mode: " in four_letter(self.port, "srvr")


# ---- recipes (kazoo) -------------------------------------------------------------------------------
def client(hosts: str, timeout: float = 2.0) -> Any:
    """A started kazoo client (session timeout ``timeout`` s; the server allows 2-20 ticks)."""
    from kazoo.client import KazooClient
    c = KazooClient(hosts=hosts, timeout=timeout)
    c.start(timeout=10)
    return c


def expire(hosts: str, victim: Any) -> None:
    """End ``victim``'s session on the server now: a second connection with its session id and
    password closes it (ZooKeeper's own test trick; the server then deletes its ephemerals)."""
    from kazoo.client import KazooClient
    twin = KazooClient(hosts=hosts, client_id=victim.client_id, timeout=victim._session_timeout / 1000)
    twin.start(timeout=10)
    twin.stop()
    twin.close()


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def elect_primary(hosts: str, names: tuple[str, ...] = ("a", "b", "c"), root: str = "/election") -> dict:
    """Each candidate creates ``root/n-`` ephemeral+sequential; the lowest is primary; each watches
    its predecessor only. Then the primary's session ends and its successor takes over.

    Returns ``{"order": [names by sequence], "first": name, "next": name, "takeover_s": seconds,
    "notified": [names whose watch fired]}``."""
    clients = {n: client(hosts) for n in names}
    try:
        clients[names[0]].ensure_path(root)
        znode = {n: clients[n].create(f"{root}/n-", n.encode(), ephemeral=True, sequence=True) for n in names}
        order = sorted(names, key=lambda n: znode[n])
        notified: list[str] = []
        done = threading.Event()

        def watch_predecessor(n: str) -> None:
            children = sorted(clients[n].get_children(root))
            mine = znode[n].rsplit("/", 1)[1]
            below = [c for c in children if c < mine]
            if not below:
                done.set()                          # n is now the lowest: primary
                return
            pred = f"{root}/{below[-1]}"

            def fired(event: Any) -> None:
                notified.append(n)
                watch_predecessor(n)
            if clients[n].exists(pred, watch=fired) is None:
                watch_predecessor(n)

        for n in order[1:]:
            watch_predecessor(n)
        first = order[0]
        t0 = time.monotonic()
        clients[first].stop()                       # the primary goes away: its ephemeral znode too
        clients[first].close()
        done.wait(10)
        takeover = time.monotonic() - t0
        children = sorted(clients[order[1]].get_children(root))
        now_first = clients[order[1]].get(f"{root}/{children[0]}")[0].decode()
        # A copy: closing the other clients below fires more watches into ``notified``.
        return {"order": order, "first": first, "next": now_first, "takeover_s": takeover,
                "notified": list(notified)}
    finally:
        for n, c in clients.items():
            if n != names[0] or c.connected:
                c.stop()
                c.close()


def watch_and_sync(hosts: str, path: str = "/config") -> dict:
    """A data watch fires once (CHANGED) after another client's ``set``; a child watch fires on a new
    child; ``sync`` then ``get`` reads the latest value."""
    a, b = client(hosts), client(hosts)
    try:
        a.ensure_path(path)
        events: list[tuple[str, str]] = []
        got = threading.Event()

        def on_data(event: Any) -> None:
            events.append(("data", event.type))
            got.set()
        b.get(path, watch=on_data)
        a.set(path, b"v2")
        got.wait(10)
        got.clear()

        def on_child(event: Any) -> None:
            events.append(("child", event.type))
            got.set()
        b.get_children(path, watch=on_child)
        a.create(f"{path}/x", b"")
        got.wait(10)
        a.set(path, b"v3")                          # no watch left: watches are one-shot
        b.sync(path)
        value = b.get(path)[0].decode()
        time.sleep(0.05)
        return {"events": events, "after_sync": value}
    finally:
        for c in (a, b):
            c.stop()
            c.close()


def expiry_releases_lock(hosts: str, path: str = "/locks/primary") -> dict:
    """c1 holds kazoo's Lock; c2's non-blocking acquire fails; c1's session is expired on the server;
    c2 then gets the lock. Returns what happened and how long the hand-over took."""
    from kazoo.recipe.lock import Lock
    c1, c2 = client(hosts), client(hosts)
    try:
        l1, l2 = Lock(c1, path, "c1"), Lock(c2, path, "c2")
        assert l1.acquire(timeout=10)
        busy = l2.acquire(blocking=False)
        contenders = l2.contenders()
        t0 = time.monotonic()
        expire(hosts, c1)
        got = l2.acquire(timeout=10)
        return {"c2_while_held": busy, "contenders": contenders, "c2_after_expiry": got,
                "handover_s": time.monotonic() - t0}
    finally:
        for c in (c1, c2):
            c.stop()
            c.close()


class FencedResource:
    """The resource server of chapter 08, with a ZooKeeper token: writes carrying a token lower than
    the highest seen are rejected."""

    def __init__(self) -> None:
        self.highest = -1
        self.log: list[tuple[str, int, bool]] = []

    def write(self, who: str, token: int) -> bool:
        ok = token >= self.highest
        if ok:
            self.highest = token
        self.log.append((who, token, ok))
        return ok


def fenced_writes(hosts: str, path: str = "/locks/fenced") -> dict:
    """Fencing with ``czxid``: c1 takes the lock (its lock znode's creation zxid is its token), is
    "paused" while its session is expired, c2 takes the lock (a larger czxid) and writes; c1's late
    write is rejected. Then the znode version as a conditional write: a ``set`` with a stale version
    fails with BadVersionError."""
    from kazoo.exceptions import BadVersionError
    c1, c2 = client(hosts), client(hosts)
    try:
        c1.ensure_path(path)
        res = FencedResource()
        n1 = c1.create(f"{path}/lock-", b"c1", ephemeral=True, sequence=True)
        token1 = c1.exists(n1).czxid
        assert res.write("c1", token1)
        expire(hosts, c1)                          # c1 is "paused": its session ends meanwhile
        _wait(lambda: not c2.get_children(path))
        n2 = c2.create(f"{path}/lock-", b"c2", ephemeral=True, sequence=True)
        token2 = c2.exists(n2).czxid
        c2_ok = res.write("c2", token2)
        late = res.write("c1", token1)             # c1 wakes and writes with its old token
        # The znode version as a compare-and-set token.
        c2.ensure_path(path + "-data")
        _, stat = c2.get(path + "-data")
        c2.set(path + "-data", b"first", version=stat.version)
        try:
            c2.set(path + "-data", b"stale", version=stat.version)
            stale_rejected = False
        except BadVersionError:
            stale_rejected = True
        return {"token1": token1, "token2": token2, "c2_write": c2_ok, "late_write": late,
                "log": res.log, "stale_version_rejected": stale_rejected}
    finally:
        for c in (c1, c2):
            c.stop()
            c.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Start Debian's ZooKeeper on 127.0.0.1 for chapter 08's lab.")
    ap.add_argument("--seconds", type=float, default=600.0, help="stop after this long (default 600)")
    args = ap.parse_args(argv)
    if not available():
        print(f"ZooKeeper is not installed: apt-get install -y --no-install-recommends zookeeper "
              f"(needs {JAR} and java)")
        return 1
    with ZooKeeperServer(tick_ms=2000) as zk:
        print(f"ZooKeeper serving on {zk.hosts} (started in {zk.startup_seconds:.2f} s); "
              f"from Python: KazooClient(hosts={zk.hosts!r}). Ctrl-C stops it.", flush=True)
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

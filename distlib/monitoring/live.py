"""The live lab: a simulated cluster running in (scaled) real time, each node serving ``/metrics`` over
HTTP on 127.0.0.1, scraped by the real Prometheus.

    python -m distlib.monitoring.live --seconds 120      # cluster + prometheus; prints the URLs

A background thread advances the world by ``speed`` simulated seconds per wall-clock second; each node
gets a small ``http.server`` on a free 127.0.0.1 port whose ``GET /metrics`` returns the node's text
exposition (``prometheus_client``'s format, from the :class:`Observer`), or ``503`` while the node is
crashed or paused -- so the real server's ``up`` drops to 0. Simulated partitions do not reach real
sockets: the real Prometheus still scrapes a partitioned node. Output here depends on the wall clock
and is not deterministic: keep it out of strict-nbval cells.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from distlib.sim import World
from distlib.sim.validate import number

from .instrument import Observer
from .real import free_port

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LiveCluster:
    """Drive ``world`` in real time and serve every node's metrics; use as a context manager."""

    def __init__(self, world: World, observer: Observer, *, speed: float = 1.0, tick: float = 0.05):
        if not isinstance(world, World):
            raise ValueError(f"world must be a distlib.sim.World (got {world!r})")
        if not isinstance(observer, Observer) or observer.world is not world:
            raise ValueError(f"observer must be the Observer of this world (got {observer!r})")
        self.world = world
        self.observer = observer
        self.speed = number("speed", speed, above=True)
        self.tick = number("tick", tick, above=True)
        self.lock = threading.Lock()
        self.ports: dict[str, int] = {}
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def targets(self) -> list[str]:
        """``127.0.0.1:<port>`` of every node, in node order (for a scrape config)."""
        return [f"127.0.0.1:{self.ports[n]}" for n in self.world.nodes]

    def _handler(self, name: str) -> type[BaseHTTPRequestHandler]:
        live = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:            # noqa: N802 (http.server's name)
                if self.path.split("?")[0] != "/metrics":
                    self._reply(404, "only /metrics here\n")
                    return
                with live.lock:
                    if live.world.status[name] != "up":
                        body, code = f"{name} is {live.world.status[name]}\n", 503
                    else:
                        body, code = live.observer.exposition(name), 200
                self._reply(code, body)

            def _reply(self, code: int, body: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:     # keep notebooks and tests quiet
                pass
        return Handler

    def start(self) -> LiveCluster:
        for name in self.world.nodes:
            port = free_port()
            server = ThreadingHTTPServer(("127.0.0.1", port), self._handler(name))
            server.daemon_threads = True
            self.ports[name] = port
            self._servers.append(server)
            t = threading.Thread(target=server.serve_forever, name=f"metrics-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._drive, name="live-world", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _drive(self) -> None:
        t0 = time.monotonic()
        sim0 = self.world.now
        while not self._stop.wait(self.tick):
            target = sim0 + (time.monotonic() - t0) * self.speed
            with self.lock:
                if target > self.world.now:
                    self.world.run(until=target)

    def do(self, fn: Any) -> Any:
        """Run ``fn()`` (e.g. ``lambda: world.crash("n1")``) between simulation steps."""
        with self.lock:
            return fn()

    def stop(self) -> None:
        self._stop.set()
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> LiveCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    from distlib.consensus.raft import RaftNode, make_cluster

    from . import real
    from .instrument import instrumented
    ap = argparse.ArgumentParser(description="A live Raft cluster scraped by the real Prometheus.")
    ap.add_argument("--seconds", type=float, default=300.0, help="wall-clock seconds to run")
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--crash-at", type=float, default=30.0, help="crash the leader at this wall second")
    args = ap.parse_args(argv)
    world = make_cluster(args.nodes, seed=args.seed, cls=instrumented(RaftNode), election_timeout=(1.5, 3.0),
                         heartbeat=0.5, latency=(0.005, 0.03))
    obs = Observer(world)
    with LiveCluster(world, obs) as live:
        if not real.available():
            print("prometheus is not installed: apt-get install -y --no-install-recommends prometheus")
            print("metrics only: " + ", ".join(f"http://{t}/metrics" for t in live.targets()))
            time.sleep(args.seconds)
            return
        cfg = [{"job_name": "raft", "scrape_interval": "1s", "scrape_timeout": "1s",
                "static_configs": [{"targets": live.targets()}]}]
        with real.PrometheusServer(scrape_configs=cfg, retention="1d") as prom:
            print(f"Prometheus: {prom.url}/graph   (try: up, rate(node_messages_sent_total[10s]))")
            print("targets: " + ", ".join(f"http://{t}/metrics" for t in live.targets()))
            start = time.monotonic()
            crashed = False
            while time.monotonic() - start < args.seconds:
                time.sleep(0.5)
                if not crashed and time.monotonic() - start >= args.crash_at:
                    leader = live.do(lambda: next((n for n, x in world.nodes.items()
                                                   if getattr(x, "role", "") == "leader"), None))
                    if leader:
                        live.do(lambda leader=leader: world.crash(leader))
                        print(f"crashed the leader {leader} at {time.monotonic() - start:.0f} s")
                    crashed = True


if __name__ == "__main__":
    main()

"""The deterministic simulated cluster: world, nodes, network, faults, clients, trace."""

from .client import Client
from .faults import (
                     CrashFault,
                     CutFault,
                     FaultSchedule,
                     PartitionFault,
                     PauseFault,
                     crash,
                     cut,
                     partition,
                     pause,
)
from .history import History, Op
from .network import Latency, LinkConfig, Network
from .node import Node, Runtime
from .rng import derive_seed, stream
from .schedule_text import as_schedule, format_schedule, parse_schedule
from .trace import (
                     Annotate,
                     Crash,
                     Cut,
                     Deliver,
                     Drop,
                     Duplicate,
                     Heal,
                     Partition,
                     Pause,
                     Record,
                     Restart,
                     Resume,
                     Send,
                     Timer,
                     Trace,
)
from .world import World

__all__ = [
    "Annotate", "Client", "Crash", "CrashFault", "Cut", "CutFault", "Deliver", "Drop", "Duplicate",
    "FaultSchedule", "Heal", "History", "Latency", "LinkConfig", "Network", "Node", "Op",
    "Partition", "PartitionFault", "Pause", "PauseFault", "Record", "Restart",
    "Resume", "Runtime", "Send", "Timer", "Trace", "World", "as_schedule", "crash", "cut", "derive_seed",
    "format_schedule", "parse_schedule", "partition", "pause", "stream",
]

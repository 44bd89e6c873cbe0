"""A fault at the boot instant: the node must not act as if it were up."""

from distlib.sim import FaultSchedule, Node, World, crash, pause


class Chatty(Node):
    def on_start(self):
        self.booted = True
        self.broadcast("hello")


def test_node_crashed_at_time_zero_does_not_boot_until_restart():
    world = World(0)
    world.add_nodes(Chatty, ["a", "b"])
    FaultSchedule([crash("a", at=0.0, restart=0.5)]).apply(world)
    world.run(until=1.0)
    sends_by_a = [r for r in world.trace if r.kind == "send" and r.src == "a"]
    assert sends_by_a and all(r.time >= 0.5 for r in sends_by_a)


def test_node_paused_at_time_zero_boots_on_resume():
    world = World(0)
    world.add_nodes(Chatty, ["a", "b"])
    FaultSchedule([pause("a", at=0.0, resume=0.3)]).apply(world)
    world.run(until=1.0)
    first = min(r.time for r in world.trace if r.kind == "send" and r.src == "a")
    assert first == 0.3

"""A scripted World: nothing happens until the caller says which message or timer is next."""

import pytest

from distlib.sim import Node, World


class Echo(Node):
    def on_start(self):
        self.got = []
        self.set_timer("hello", 1.0)

    def on_timer(self, name):
        self.broadcast(("hello", self.id))

    def on_message(self, src, msg):
        self.got.append((src, msg))


def scripted() -> World:
    world = World(0, scripted=True)
    world.add_nodes(Echo, ["a", "b"])
    world.run(until=5.0)            # boots, but no timer fires and nothing is delivered by itself
    return world


def test_timers_wait_for_fire_and_messages_for_deliver():
    world = scripted()
    assert world.timers("a") == ["hello"] and world.in_flight == {}
    world.fire("a", "hello")
    (mid,) = world.in_flight
    assert world.nodes["b"].got == []
    world.deliver(mid)
    assert world.nodes["b"].got == [("a", ("hello", "a"))] and world.in_flight == {}
    assert [r.kind for r in world.trace] == ["timer", "send", "deliver"]


def test_duplicate_then_deliver_both_copies_and_drop_is_traced():
    world = scripted()
    world.fire("a", "hello")
    (mid,) = world.in_flight
    copy = world.duplicate(mid)
    world.deliver(mid)
    world.deliver(copy)
    assert len(world.nodes["b"].got) == 2
    world.fire("b", "hello")
    (lost,) = world.in_flight
    world.drop(lost)
    assert world.trace[-1].kind == "drop" and world.trace[-1].reason == "loss"


def test_monitors_run_after_each_scripted_step_and_crashed_destinations_drop():
    world = scripted()
    seen = []
    world.add_monitor(lambda w: seen.append(len(w.trace)))
    world.fire("a", "hello")
    world.crash("b")
    world.deliver(next(iter(world.in_flight)))
    assert world.trace[-1].kind == "drop" and world.trace[-1].reason == "crashed"
    assert len(seen) == 1        # after the timer; a drop is not an event at the node


def test_scripted_calls_are_checked():
    world = scripted()
    with pytest.raises(ValueError, match="msg_id"):
        world.deliver(99)
    with pytest.raises(ValueError, match="not armed"):
        world.fire("a", "nope")
    free = World(0)
    free.add_node("a", Echo)
    with pytest.raises(ValueError, match="scripted=True"):
        free.fire("a", "hello")

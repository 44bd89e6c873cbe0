"""Reference tripwires: an exercise answer may not delegate to the course's own implementation.

The exercises ask a learner to write a rule the library already implements (Gray's decision rule is
inside ``distlib.transactions.twopc``, Lamport's adoption rule is ``PaxosNode.choose_value``, ...), and
the checks compute expected answers with such reference code. An answer that merely calls the
reference must score 0, and say why.

How it works
------------
Each check module declares, per exercise, the callables that answer it (:func:`protect`). Protecting
replaces the callable, wherever it is bound by name in a loaded module (its own module, re-exports,
``__main__``) or on its class, by a thin wrapper. The wrapper looks at its **immediate caller**:

* called from code inside the ``distlib`` package (the simulator running ``PaxosNode``, a check computing
  its expected answer, the linearizability checker stepping a model) — it simply calls the original;
* called from anywhere else (a notebook cell, a learner's function) — it records the call and raises
  :class:`ShortcutError` naming the exercise. The check of that exercise then fails (0 points) with
  "your answer calls the course's reference ...", even if the learner caught the exception.

So a learner can still run every scenario of the chapter (``run_paxos`` calls ``choose_value`` from
inside the library) but cannot call the answer directly, through an alias, a bound method, ``map`` or
a ``functools.partial`` (C callables add no Python frame, so the caller is still the learner's code).
Generic library helpers that call whatever they are given (``feedback.call``) are *transparent*: the
wrapper looks past them to their caller.

Checks install their protections when imported (the first cell of every exercises notebook), and the
grader and strength tests import every check module in a hidden cell before the first student cell,
so nothing the learner runs can take a reference before it is protected.

Check modules replaced or monkeypatched from an answer cell do not survive into the grade: the grader
re-imports every check module fresh before each check cell (:data:`~.notebooks.CHECK_RESTORE`).

The library itself is **sealed** once the protections are in place (:func:`seal`, at the end of the
first import of ``checks.all``): every name bound in a loaded ``distlib`` module and every attribute of
its classes is recorded. A check that finds one of them rebound, added or deleted (:func:`tampering`) —
an answer that replaced ``AppendWorker._committed`` so the broken engine appends twice, or patched a
checker — scores 0 and names what changed: checks run the library's code, so a changed library cannot
vouch for an answer. Rebinding submodule attributes (``import distlib.compute.rdd`` sets
``distlib.compute.rdd``) is not a change.

Limits (documented, deliberate): this defends against delegating to the reference, not against
tampering with the grader itself — a learner who rewrites ``guard``'s state, re-executes the
reference's source text (``inspect.getsource`` + ``exec``), copies its code object, or fishes the
original out of the wrapper's closure is cheating in a way an instructor can see in the submission
(the red-team review of chapter 08 did exactly that; it is recorded in the closing note).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_LIBRARY_PREFIX = "distlib."


class ShortcutError(RuntimeError):
    """Raised when code outside the library calls a protected reference directly."""


@dataclass(frozen=True)
class Shortcut:
    exercise: str
    reference: str   # "module.qualname" of the reference that was called


_calls: list[Shortcut] = []
_protected: dict[int, Callable[..., Any]] = {}   # id(wrapper) -> wrapper (kept alive)
_originals: set[int] = set()                     # ids of protected originals (never wrap twice)
_transparent: set[Any] = set()                   # code objects of pass-through helpers


def transparent(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a library helper that calls arbitrary callables (the wrapper looks past it)."""
    _transparent.add(fn.__code__)
    return fn


def _caller_is_library(depth: int) -> bool:
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code in _transparent:
        frame = frame.f_back
    if frame is None:
        return False
    name = frame.f_globals.get("__name__", "")
    return isinstance(name, str) and name.startswith(_LIBRARY_PREFIX)


def _label(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _wrap(original: Callable[..., Any], exercise: str) -> Callable[..., Any]:
    label = _label(original)
    shortcut = Shortcut(exercise, label)
    short_name = getattr(original, "__qualname__", label)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _caller_is_library(2):
            return original(*args, **kwargs)
        _calls.append(shortcut)
        raise ShortcutError(
            f"{short_name} is the course's own answer to exercise {exercise}; an answer may not call "
            f"it. Write the rule yourself (you may still run the chapter's scenarios).")

    guarded.__name__ = getattr(original, "__name__", "guarded")
    guarded.__qualname__ = short_name
    guarded.__doc__ = getattr(original, "__doc__", None)
    guarded.__module__ = getattr(original, "__module__", None)
    return guarded


def protect(exercise: str, *targets: Any) -> None:
    """Protect each target as a reference answer of ``exercise``.

    A target is a function (protected wherever a loaded module binds it by name) or a
    ``(class, "method")`` pair (protected on the class, so subclasses and instances see it too).
    Idempotent: protecting the same callable again does nothing.
    """
    for target in targets:
        if isinstance(target, tuple):
            cls, name = target
            original = cls.__dict__[name]
            if id(original) in _protected or id(original) in _originals:
                continue
            wrapper = _wrap(original, exercise)
            setattr(cls, name, wrapper)
        else:
            original = target
            if id(original) in _protected or id(original) in _originals:
                continue
            wrapper = _wrap(original, exercise)
            _rebind_everywhere(original, wrapper)
        _originals.add(id(original))
        _protected[id(wrapper)] = wrapper


def _rebind_everywhere(original: Any, wrapper: Any) -> None:
    """Replace every module-level binding of ``original`` (its home, re-exports, ``__main__``)."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            if value is original:
                namespace[key] = wrapper


def shortcuts(exercise: str) -> list[str]:
    """The protected references of ``exercise`` called from outside the library since the last
    :func:`take` for it (in order, without repeats)."""
    seen: list[str] = []
    for call in _calls:
        if call.exercise == exercise and call.reference not in seen:
            seen.append(call.reference)
    return seen


def take(exercise: str) -> list[str]:
    """:func:`shortcuts`, and forget them: each check run judges the calls made since the last one,
    so a learner who removed a shortcut and re-ran the answer is judged on the new answer."""
    found = shortcuts(exercise)
    _calls[:] = [call for call in _calls if call.exercise != exercise]
    return found


def is_protected(fn: Any) -> bool:
    return id(fn) in _protected


# ---- the seal: the library as it was when the protections went in --------------------------------------
_SEAL_EXEMPT = "distlib.grading.checks"   # re-imported fresh before every check cell (CHECK_RESTORE)
_sealed: dict[str, tuple[Any, dict[str, Any]]] = {}   # see _namespaces (objects kept alive)


def _sealable_modules() -> list[tuple[str, Any]]:
    return sorted((name, module) for name, module in list(sys.modules.items())
                  if name.startswith(_LIBRARY_PREFIX) and module is not None
                  and name != _SEAL_EXEMPT and not name.startswith(_SEAL_EXEMPT + "."))


def _namespaces() -> dict[str, tuple[Any, dict[str, Any]]]:
    """``"module"`` / ``"module:Class"`` -> (the module or class, a copy of its namespace)."""
    spaces: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name, module in _sealable_modules():
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        spaces[name] = (module, {k: v for k, v in namespace.items() if not isinstance(v, type(sys))})
        for key, value in list(namespace.items()):
            if isinstance(value, type) and value.__module__ == name:
                spaces[f"{name}:{key}"] = (value, dict(value.__dict__))
    return spaces


def _import_whole_library() -> None:
    """Load every library module before sealing, so that a module a check imports lazily (e.g.
    ``distlib.check.saga`` inside a check function) is sealed too (red team, chapter 05: a patched
    ``check_saga`` passed the bug hunt with an empty schedule)."""
    import importlib
    import pkgutil

    import distlib

    for info in pkgutil.walk_packages(distlib.__path__, "distlib."):
        if info.name.endswith("__main__") or info.name in _NOT_PRELOADED:
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional engine's module (e.g. PySpark absent): nothing to seal there
            continue


# Command-line entry points and optional real engines: importing them is pointless or slow in a kernel.
_NOT_PRELOADED = frozenset({"distlib.grade", "distlib.cli", "distlib.compute.spark",
                            "distlib.compute.spark_app"})


def seal() -> None:
    """Record the library (once; later calls do nothing) — see the module docstring."""
    if not _sealed:
        _import_whole_library()
        _sealed.update(_namespaces())


def import_system_restorer() -> Callable[[], None]:
    """A function that puts the kernel back as it is now before a check cell and re-imports the check
    modules fresh (the grader calls it before every check cell, :data:`~.notebooks.CHECK_RESTORE`):
    the import system (``builtins.__import__``, ``sys.meta_path``, path hooks — red team, chapter 05:
    an import hook faked every check), the ``builtins`` namespace, IPython's input and AST transformers,
    custom exception handlers and event callbacks (red team, chapter 10: a transformer rewrote every
    later check cell into ``print('right: ok')``), trace and profile functions. It then arms the checks
    for the one check cell that follows (:func:`checks_armed`). What it needs is bound now, in its
    closure, so an answer that later replaced any of these cannot redirect the restore itself."""
    import builtins
    import importlib

    real_import = builtins.__import__
    builtin_names = dict(builtins.__dict__)
    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    modules = sys.modules
    import_module, invalidate = importlib.import_module, importlib.invalidate_caches
    shell = _ipython_shell()
    hooks = _shell_hooks(shell)
    state = _grading_state

    def restore() -> None:
        for key in [k for k in builtins.__dict__ if k not in builtin_names]:
            del builtins.__dict__[key]
        builtins.__dict__.update(builtin_names)
        builtins.__import__ = real_import
        sys.settrace(None)
        sys.setprofile(None)
        sys.meta_path[:] = meta_path
        sys.path_hooks[:] = path_hooks
        sys.path_importer_cache.clear()
        invalidate()
        if shell is not None:
            _set_shell_hooks(shell, hooks)
        for name in [n for n in list(modules) if n == _SEAL_EXEMPT or n.startswith(_SEAL_EXEMPT + ".")]:
            del modules[name]
        import_module(_SEAL_EXEMPT + ".all")
        state["grading"] = state["armed"] = True

    return restore


def start_grading() -> None:
    """Grading mode from the hidden preamble on: checks run only right after a restore (the first answer
    cell of a notebook must not be able to ask a check either)."""
    _grading_state["grading"], _grading_state["armed"] = True, False


def disarm_checks() -> None:
    """After a check cell: until the next restore, check functions called from an answer cell do not run
    (while grading), so an answer cannot ask a check for the cases it fails (red team, chapter 10: an
    answer that called the check in a loop and parsed its feedback learned every case)."""
    _grading_state["armed"] = False


def checks_armed() -> bool:
    """Whether a check may run now: always outside grading; while grading, only in a check cell."""
    return not _grading_state["grading"] or _grading_state["armed"]


_grading_state = {"grading": False, "armed": False}


def _ipython_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


_HOOK_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")


def _shell_hooks(shell: Any) -> dict[str, Any]:
    if shell is None:
        return {}
    hooks: dict[str, Any] = {name: list(getattr(shell, name, [])) for name in _HOOK_LISTS}
    hooks["custom_exceptions"] = shell.custom_exceptions
    hooks["CustomTB"] = getattr(shell, "CustomTB", None)
    hooks["events"] = {name: list(cbs) for name, cbs in shell.events.callbacks.items()}
    return hooks


def _set_shell_hooks(shell: Any, hooks: dict[str, Any]) -> None:
    for name in _HOOK_LISTS:
        if hasattr(shell, name):
            getattr(shell, name)[:] = hooks[name]
    shell.custom_exceptions = hooks["custom_exceptions"]
    shell.CustomTB = hooks["CustomTB"]
    for name, callbacks in hooks["events"].items():
        shell.events.callbacks[name][:] = callbacks


def _changes() -> list[tuple[str, Any, str, Any]]:
    """(label, owner, key, sealed value or _MISSING) for every binding that differs from the seal."""
    changed = []
    now = _namespaces()
    for space in sorted(_sealed):
        owner, before = _sealed[space]
        if space not in now:
            continue   # a module dropped from sys.modules: its objects are unchanged where still bound
        after = now[space][1]
        for key in sorted(set(before) | set(after), key=str):
            if key not in _PYTHON_CACHES and before.get(key, _MISSING) is not after.get(key, _MISSING):
                changed.append((f"{space.replace(':', '.')}.{key}", owner, key, before.get(key, _MISSING)))
    return changed


def tampering() -> list[str]:
    """What an answer changed in the sealed library: ``module.name`` / ``module.Class.attr`` entries that
    were rebound, added or deleted since :func:`seal` (empty before sealing)."""
    return [label for label, *_ in _changes()]


def restore_library() -> list[str]:
    """Put every changed binding back as sealed (the strength tests run many answers in one kernel, some
    of them recorded tampering answers); returns what was restored."""
    restored = []
    for label, owner, key, value in _changes():
        if value is _MISSING:
            delattr(owner, key)
        else:
            setattr(owner, key, value)
        restored.append(label)
    return restored


_MISSING = object()
# Set by Python itself on first use, not by an answer: copyreg's slot cache (copy/pickle of an instance)
# and the class-dict plumbing.
_PYTHON_CACHES = frozenset({"__slotnames__", "__dict__", "__weakref__", "__annotations__"})

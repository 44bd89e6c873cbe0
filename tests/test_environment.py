"""The two environment descriptions (pyproject.toml for pip, environment.yml for conda) pin the same set.

Committed notebook outputs depend on exact package versions (plotly's JSON embeds its template, widget
state formats change between ipywidgets releases), so every dependency is pinned with ``==``.
"""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml  # PyYAML: a dependency of jupyter-events, hence always present with jupyterlab

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]

# Packages whose versions show up in committed notebook outputs or decide how they are checked.
OUTPUT_CRITICAL = ("plotly", "ipywidgets", "jupyterlab", "simpy", "nbval")

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _norm(name: str) -> str:
    # PEP 503 name normalisation, so "PyYAML" and "pyyaml" compare equal.
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse(reqs: list[str]) -> dict[str, str]:
    """Map normalised name -> version specifier ('' if none)."""
    out: dict[str, str] = {}
    for req in reqs:
        m = _REQ.match(req)
        assert m, f"cannot parse requirement {req!r}"
        name = _norm(m.group(1))
        assert name not in out, f"{name} listed twice"
        out[name] = m.group(3).replace(" ", "")
    return out


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return _parse(reqs)


def _environment_yml() -> tuple[list[str], dict[str, str]]:
    """Return (conda dependencies as strings, pip section parsed)."""
    data = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda: list[str] = []
    pip: list[str] = []
    for dep in data["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(str(dep))
    return conda, _parse(pip)


def test_pinned_sets_are_identical() -> None:
    py = _pyproject()
    _, env = _environment_yml()
    only_py = sorted(f"{n}{py[n]}" for n in py.keys() - env.keys())
    only_env = sorted(f"{n}{env[n]}" for n in env.keys() - py.keys())
    assert not only_py and not only_env, (
        f"pyproject.toml only: {only_py}; environment.yml only: {only_env}"
    )
    differ = sorted(f"{n}: pyproject {py[n]} vs environment.yml {env[n]}" for n in py if py[n] != env[n])
    assert not differ, "versions differ: " + "; ".join(differ)


def test_every_dependency_is_pinned_exactly() -> None:
    loose = sorted(f"{n}{spec or ' (no version)'}" for n, spec in _pyproject().items()
                   if not re.fullmatch(r"==[0-9][0-9A-Za-z.+!-]*", spec))
    assert not loose, f"pin these with ==: {loose}"


@pytest.mark.parametrize("name", OUTPUT_CRITICAL)
def test_output_critical_packages_pinned(name: str) -> None:
    py = _pyproject()
    _, env = _environment_yml()
    for source, pins in (("pyproject.toml", py), ("environment.yml", env)):
        assert name in pins, f"{name} missing from {source}"
        assert pins[name].startswith("=="), f"{name} must be pinned with == in {source}, got {pins[name]!r}"


def test_python_requirement_matches() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requires = pyproject["project"]["requires-python"]
    conda, _ = _environment_yml()
    pythons = [d.replace(" ", "") for d in conda if re.match(r"python\b", d)]
    assert pythons == [f"python{requires.replace(' ', '')}"], (
        f"environment.yml python {pythons} vs pyproject requires-python {requires!r}"
    )
    assert "pip" in conda, "environment.yml needs pip to install its pip section"


# Extras `make env` does not install (heavy real engines, installed by their own make target and by
# .ci/run): locally they may be absent; installed, or under CI, they must match their pin.
OPTIONAL_EXTRAS = ("spark",)


def _optional_only() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = data.get("optional-dependencies", {})
    heavy = _parse([r for e in OPTIONAL_EXTRAS for r in extras.get(e, [])])
    light = _parse(list(data["dependencies"]) + [r for e, reqs in extras.items() if e not in OPTIONAL_EXTRAS
                                                  for r in reqs])
    return set(heavy) - set(light)


def test_installed_versions_match_pins() -> None:
    # A stale virtualenv silently changes notebook outputs; `make env` reinstalls when pyproject changes.
    wrong = []
    optional = set() if os.environ.get("CI") == "true" else _optional_only()
    for name, spec in _pyproject().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name not in optional:
                wrong.append(f"{name}: not installed (want {spec})")
            continue
        if spec.startswith("==") and have != spec[2:]:
            wrong.append(f"{name}: installed {have}, pinned {spec}")
    assert not wrong, "run `make env`: " + "; ".join(wrong)

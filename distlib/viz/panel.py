"""The control-panel pattern: declared controls -> ``run(**values)`` -> figure + summary, redrawn on change.

>>> panel = Panel(lambda seed, loss: scenario(seed, loss),            # doctest: +SKIP
...               {"seed": IntControl(1, 0, 99), "loss": FloatControl(0.0, 0.0, 0.5, 0.05)},
...               title="Two-phase commit")
>>> panel                      # shows the controls, the figure and the summary text
>>> panel.rerun(loss=0.2)      # the same from code (tests, lecture scripts)

``run`` returns ``(figure, summary_text)`` (or just a figure). The figure is put
into an ``ipywidgets.Output`` as a ``plotly_mimetype`` bundle — no
``go.FigureWidget`` (that would need anywidget). If ``run`` raises, the panel
shows the message in a red box, never a traceback, and the previous figure stays.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio

from distlib.sim.validate import integer, number

from .schedule_text import parse_schedule
from .theme import RENDERER

ERROR_STYLE = ("color:#8B1A00;background:#FDEDE7;border-left:4px solid #D55E00;"
               "padding:6px 10px;margin:4px 0;font-family:sans-serif")


# ---- controls ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Control:
    """A named input of a panel: a default, the allowed values and the widget that edits it."""

    label: str | None = field(default=None, kw_only=True)

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` if allowed, else raise ValueError naming ``name`` and the allowed values."""
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """The value handed to ``run`` (a schedule control parses its text here)."""
        return value

    def make_widget(self, name: str) -> widgets.ValueWidget:
        raise NotImplementedError

    @property
    def initial(self) -> Any:
        return self.default  # type: ignore[attr-defined]


def _number(name: str, value: Any, integer: bool) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} (got {value!r})")
    return value


@dataclass(frozen=True)
class IntControl(Control):
    """An integer slider over ``[min, max]``."""

    default: int
    min: int
    max: int
    step: int = 1

    def __post_init__(self) -> None:
        for k in ("min", "max", "step"):
            _number(k, getattr(self, k), True)
        if self.min > self.max or self.step < 1:
            raise ValueError(f"IntControl needs min <= max and step >= 1 (got {self.min}, {self.max}, "
                             f"step {self.step})")
        self.check("default", self.default)

    def check(self, name: str, value: Any) -> int:
        return integer(name, value, self.min, self.max)

    def make_widget(self, name: str) -> widgets.ValueWidget:
        return widgets.IntSlider(value=self.default, min=self.min, max=self.max, step=self.step,
                                 description=self.label or name, continuous_update=False,
                                 style={"description_width": "initial"})


@dataclass(frozen=True)
class FloatControl(Control):
    """A float slider over ``[min, max]``."""

    default: float
    min: float
    max: float
    step: float = 0.01
    readout_format: str = ".2f"

    def __post_init__(self) -> None:
        for k in ("min", "max", "step"):
            _number(k, getattr(self, k), False)
        if self.min > self.max or not self.step > 0:
            raise ValueError(f"FloatControl needs min <= max and step > 0 (got {self.min}, {self.max}, "
                             f"step {self.step})")
        self.check("default", self.default)

    def check(self, name: str, value: Any) -> float:
        return number(name, value, self.min, self.max)

    def make_widget(self, name: str) -> widgets.ValueWidget:
        return widgets.FloatSlider(value=self.default, min=self.min, max=self.max, step=self.step,
                                   description=self.label or name, continuous_update=False,
                                   readout_format=self.readout_format,
                                   style={"description_width": "initial"})


@dataclass(frozen=True)
class ChoiceControl(Control):
    """A dropdown over ``options`` (strings or numbers); ``default`` is the first if not given."""

    options: Sequence[Any]
    default: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.options, str) or not list(self.options):
            raise ValueError(f"options must be a non-empty list (got {self.options!r})")
        object.__setattr__(self, "options", tuple(self.options))
        if self.default is None:
            object.__setattr__(self, "default", self.options[0])
        self.check("default", self.default)

    def check(self, name: str, value: Any) -> Any:
        if value not in self.options:
            allowed = ", ".join(repr(o) for o in self.options)
            raise ValueError(f"{name} must be one of {allowed} (got {value!r})")
        return value

    def make_widget(self, name: str) -> widgets.ValueWidget:
        return widgets.Dropdown(options=list(self.options), value=self.default,
                                description=self.label or name, style={"description_width": "initial"})


@dataclass(frozen=True)
class TextControl(Control):
    """A text box; ``parse(text)`` (if given) turns it into the value ``run`` receives.

    The value updates when the learner presses Enter or leaves the box, not per keystroke.
    """

    default: str = ""
    parse: Callable[[str], Any] | None = None
    placeholder: str = ""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text (got {value!r})")
        return value

    def convert(self, value: Any) -> Any:
        return self.parse(value) if self.parse is not None else value

    def make_widget(self, name: str) -> widgets.ValueWidget:
        return widgets.Text(value=self.default, description=self.label or name,
                            placeholder=self.placeholder, continuous_update=False,
                            style={"description_width": "initial"},
                            layout=widgets.Layout(width="100%"))


def ScheduleControl(default: str = "", nodes: Sequence[str] | None = None, *,
                    label: str | None = "faults") -> TextControl:
    """A text box for a fault schedule; ``run`` receives a :class:`~distlib.sim.FaultSchedule`.

    Syntax: ``crash n2 at 1.5 restart 3; partition n1 | n2,n3 at 2 heal 4; pause n1 at 1 until 2;
    cut n1->n2 at 1`` (see :mod:`distlib.viz.schedule_text`).
    """
    names = tuple(nodes) if nodes is not None else None
    parse_schedule(default, names)   # a bad default is the author's bug: fail now, loudly
    return TextControl(default, parse=lambda text: parse_schedule(text, names), label=label,
                       placeholder="e.g. crash n2 at 1.5 restart 3; partition n1 | n2,n3 at 2 heal 4")


# ---- the panel ---------------------------------------------------------------------------------
def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The display_data output of ``fig`` with the ``plotly_mimetype`` renderer (no HTML, no uuid)."""
    data = pio.renderers[RENDERER].to_mimebundle(fig.to_dict())
    return {"output_type": "display_data", "data": data, "metadata": {}}


class Panel:
    """Controls that re-run a scenario and redraw its figure and summary.

    ``panel.widget`` is the top-level VBox; ``panel.figure``/``panel.text`` the
    last good result; ``panel.error_text`` the message shown ("" if none).
    """

    def __init__(self, run: Callable[..., tuple[go.Figure, str] | go.Figure],
                 controls: Mapping[str, Control], *, title: str | None = None):
        if not callable(run):
            raise ValueError(f"run must be callable (got {run!r})")
        if not isinstance(controls, Mapping) or not all(isinstance(c, Control) for c in controls.values()):
            raise ValueError("controls must be a dict of name -> Control (IntControl, FloatControl, "
                             "ChoiceControl, TextControl, ScheduleControl)")
        self.run = run
        self.controls: dict[str, Control] = dict(controls)
        self.title = title or "Panel"
        self.figure: go.Figure | None = None
        self.text = ""
        self.error_text = ""
        self.runs = 0                       # successful redraws, handy in tests
        self._quiet = False                 # set while code (not the learner) moves the widgets
        self.inputs: dict[str, widgets.ValueWidget] = {n: c.make_widget(n) for n, c in self.controls.items()}
        for w in self.inputs.values():
            w.observe(self._on_change, names="value")
        sliders = [w for w in self.inputs.values() if not isinstance(w, widgets.Text)]
        for w in sliders:
            w.layout.margin = "2px 24px 2px 0"
        texts = [w for w in self.inputs.values() if isinstance(w, widgets.Text)]
        self.error = widgets.HTML("")
        self.output = widgets.Output()
        self.summary = widgets.HTML("")
        head = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = widgets.VBox(head + [
            widgets.Box(sliders, layout=widgets.Layout(flex_flow="row wrap")),
            *texts, self.error, self.output, self.summary])
        self._run(self.values)

    # ---- state -------------------------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """The current control values (as shown in the widgets)."""
        return {n: w.value for n, w in self.inputs.items()}

    def rerun(self, **values: Any) -> bool:
        """Set some controls from code and redraw; False (and a message in the panel) if rejected."""
        unknown = [k for k in values if k not in self.controls]
        if unknown:
            raise ValueError(f"rerun got unknown control(s) {', '.join(unknown)}; "
                             f"the controls are {', '.join(self.controls)}")
        try:
            checked = {k: self.controls[k].check(k, v) for k, v in values.items()}
        except ValueError as e:
            self._show_error(f"Invalid value: {e}")
            return False
        self._quiet = True
        try:
            for k, v in checked.items():
                self.inputs[k].value = v
        finally:
            self._quiet = False
        return self._run(self.values)

    # ---- internals ---------------------------------------------------------------------------
    def _on_change(self, _change: dict) -> None:
        if not self._quiet:
            self._run(self.values)

    def _show_error(self, message: str) -> None:
        self.error_text = message
        self.error.value = f'<div style="{ERROR_STYLE}">⚠ {html.escape(message)}</div>'

    def _run(self, values: dict[str, Any]) -> bool:
        try:
            args = {k: self.controls[k].convert(self.controls[k].check(k, v)) for k, v in values.items()}
        except ValueError as e:
            self._show_error(f"Invalid value: {e}")
            return False
        try:
            result = self.run(**args)
        except ValueError as e:
            self._show_error(f"Invalid value: {e}")
            return False
        except Exception as e:   # a learner's bug must not print a traceback into the lecture
            self._show_error(f"The scenario failed: {type(e).__name__}: {e}")
            return False
        fig, text = (result, "") if isinstance(result, go.Figure) else result
        if not isinstance(fig, go.Figure) or not isinstance(text, str):
            self._show_error("run must return (plotly Figure, summary text) "
                             f"(got {type(result).__name__})")
            return False
        self.figure, self.text = fig, text
        # One atomic state update replaces the figure: the same effect as clear_output(wait=True)
        # then display(fig) -- no flicker -- and it also works (and is testable) outside a kernel.
        self.output.outputs = (figure_bundle(fig),)
        self.summary.value = (f'<pre style="margin:2px 0;font-size:12px">{html.escape(text)}</pre>'
                              if text else "")
        self.error_text = ""
        self.error.value = ""
        self.runs += 1
        return True

    # ---- display -----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs)
        # Short and stable, because nbval compares text/plain: the title, and whether the panel's
        # current values drew a figure -- so a chapter whose panel defaults fail, fails nbval.
        state = f"error: {self.error_text}" if self.error_text else "ok"
        data["text/plain"] = f"Panel: {self.title} [{state}]"
        return data

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        return f"Panel({self.title!r}, controls={list(self.controls)})"

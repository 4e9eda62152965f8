"""An explorer of GraN and its relatives on a 2-D ReLU net (notebook 01).

Sliders for K and ε and a choice of output normaliser redraw, over the plane, the raw net f, the normalised
discriminator g and ‖∇ₓg‖, each with a slice along a horizontal line under its map. What to see: inside every
linear region ‖∇ₓg‖ is flat and under its bound (K·n²/(n²+ε) < K for GraN), while g jumps where two regions meet;
ε decides how close to K the bound comes where ‖∇f‖ is small. Region boundaries are drawn in black on the maps and
dotted on the slices.

Widgets are shown only where a front end draws them: a kernel that a Jupyter server started (JupyterLab, Notebook;
the server names the session in ``$JPY_SESSION_NAME``). Elsewhere (papermill, nbconvert, a terminal)
:func:`show_explorer` draws the same panels once, for a few values of K and ε, as a static figure; nothing waits on a
front end, so nothing can hang.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from torch import nn

from granlib.gran import DEFAULT_EPS
from granlib.normalizers import build_discriminator, default_K, get_normalizer, method_label
from granlib.study.instruments.toy import activation_pattern, grid, input_gradient_norm
from granlib.study.pipeline.plots import stamp

# The normalisers one can choose here: those that act on f's output and gradient alone, so one fixed net shows
# them all (SN, GP and clipping change the weights), each with the D it builds as plain text (figure titles cannot
# typeset the registry's LaTeX formulas), n = ‖∇ₓf‖; named by the registry's method_label.
EXPLORED = {"gran": "K·f·n/(n²+ε)", "gran_inverse": "K·f/(n+ε)", "gn": "K·f/(‖∇f‖+|f|)", "none": "K·f"}


def uses_eps(normalizer: str) -> bool:
    """Whether ε is one of the normaliser's declared hyper-parameters (GN and the plain net have none)."""
    return "eps" in get_normalizer(normalizer).hyperparameters
# The static form's rows, (K, ε): K scales g and its bound; a larger ε lowers the bound where n² is not ≫ ε.
STATIC_SETTINGS = ((0.1, DEFAULT_EPS), (1.0, DEFAULT_EPS), (10.0, DEFAULT_EPS), (1.0, 1e-2))
SERVER_SESSION_ENV = "JPY_SESSION_NAME"  # set by jupyter_server in the environment of each kernel it starts
_BOUNDARY = ListedColormap(["black"])


@dataclass
class Plane:
    """A net sampled on a square grid: f, ‖∇f‖, its region boundaries, and the grid row drawn as a slice."""

    net: nn.Module
    points: torch.Tensor  # [resolution², 2], row by row (granlib.study.instruments.toy.grid)
    axis: np.ndarray  # the grid's coordinates along either axis
    f: np.ndarray  # [resolution, resolution]
    grad_f: np.ndarray
    boundaries: np.ndarray  # True where a point's region differs from its right or upper neighbour's
    row: int  # the grid row of the slice (nearest x₂ = 0)
    cuts: np.ndarray  # x₁ of the region boundaries the slice crosses

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return (self.axis[0], self.axis[-1], self.axis[0], self.axis[-1])

    @property
    def line(self) -> float:
        """x₂ of the slice."""
        return float(self.axis[self.row])


def plane(net: nn.Module, limit: float = 2.0, resolution: int = 160) -> Plane:
    """Sample ``net`` (2-D in, one score out) on [-limit, limit]²."""
    xx, _, points = grid(limit=limit, resolution=resolution)
    shape = xx.shape
    with torch.no_grad():
        f = net(points).reshape(shape).numpy()
    codes = activation_pattern(net, points).reshape(shape).numpy()
    boundaries = np.zeros(shape, dtype=bool)
    boundaries[:, :-1] |= codes[:, 1:] != codes[:, :-1]
    boundaries[:-1, :] |= codes[1:, :] != codes[:-1, :]
    axis = xx[0].numpy()
    row = int(np.abs(axis).argmin())
    cuts = axis[1:][codes[row, 1:] != codes[row, :-1]]
    return Plane(net, points, axis, f, input_gradient_norm(net, points).reshape(shape).numpy(), boundaries, row,
                 cuts)


def normalised(where: Plane, normalizer: str, K: float, eps: float = DEFAULT_EPS) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """(g, ‖∇ₓg‖) on the grid of ``where``: the net under ``normalizer`` (granlib.normalizers), n held constant as in
    the generator step (exact inside every region)."""
    d = build_discriminator(normalizer, where.net, K=K, **({"eps": eps} if uses_eps(normalizer) else {}))

    def g(x: torch.Tensor) -> torch.Tensor:
        return d(x, generator_step=True)

    shape = where.f.shape
    grad = input_gradient_norm(g, where.points).reshape(shape)
    return g(where.points.clone()).detach().reshape(shape).numpy(), grad.numpy()


def _figure(size: tuple[float, float]) -> Figure:
    """A figure outside pyplot (shown only where asked), laid out with room between a colour bar and the next
    panel's axis label."""
    figure = Figure(figsize=size, layout="constrained")
    figure.get_layout_engine().set(w_pad=0.1)
    return figure


def _map(fig: Figure, ax: Axes, where: Plane, values: np.ndarray, label: str, cmap: str):
    image = ax.imshow(values, origin="lower", extent=where.extent, cmap=cmap)
    ax.imshow(np.ma.masked_where(~where.boundaries, where.boundaries), origin="lower", extent=where.extent,
              cmap=_BOUNDARY, alpha=0.35, interpolation="nearest")
    ax.axhline(where.line, color="white", ls="--", lw=1)
    ax.set(xlabel="x₁", ylabel="x₂")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label=label)
    return image


def _slice(ax: Axes, where: Plane, values: np.ndarray, label: str, color: str):
    for i, cut in enumerate(where.cuts):
        ax.axvline(cut, color="0.6", ls=":", lw=0.8, label="region boundary" if i == 0 else None)
    (line,) = ax.plot(where.axis, values[where.row], color=color, label=label)
    ax.set(xlabel=f"x₁ along x₂ = {where.line:.2f} (dashed line on the map)", ylabel=label)
    return line


def _legend(ax: Axes) -> None:
    ax.legend(loc="best", fontsize=8, framealpha=0.85)


def _symmetric(image, values: np.ndarray) -> None:
    top = float(np.abs(values).max()) or 1.0
    image.set_clim(-top, top)


class ExplorerFigure:
    """The explorer's panels as one matplotlib figure, redrawn in place by :meth:`update`: maps of f, g and
    ‖∇ₓg‖ on top, their slices below."""

    def __init__(self, where: Plane, smoke: bool = False):
        self.where = where
        self.figure = _figure((15, 8.2))
        axes = self.figure.subplots(2, 3)
        self.axes = axes
        f_map = _map(self.figure, axes[0, 0], where, where.f, "f(x)", "coolwarm")
        _symmetric(f_map, where.f)
        axes[0, 0].set_title("the raw net f (black: region boundaries)")
        _slice(axes[1, 0], where, where.f, "f(x)", "C0")
        axes[1, 0].set_title("f along the slice: continuous, linear per region")
        _legend(axes[1, 0])
        zeros = np.zeros_like(where.f)
        self.g_map = _map(self.figure, axes[0, 1], where, zeros, "g(x)", "coolwarm")
        self.grad_map = _map(self.figure, axes[0, 2], where, zeros, "‖∇ₓg(x)‖", "viridis")
        self.g_line = _slice(axes[1, 1], where, zeros, "g(x)", "C3")
        self.grad_line = _slice(axes[1, 2], where, zeros, "‖∇ₓg(x)‖", "C2")
        self.bound = axes[1, 2].axhline(1.0, color="k", ls="--", label="K")
        _legend(axes[1, 1])
        _legend(axes[1, 2])
        stamp(self.figure, smoke)

    def update(self, normalizer: str, K: float, eps: float = DEFAULT_EPS) -> None:  # noqa: N803
        """Redraw g and ‖∇ₓg‖ for one normaliser, K and ε."""
        g, grad = normalised(self.where, normalizer, K, eps)
        self.g_map.set_data(g)
        _symmetric(self.g_map, g)
        self.grad_map.set_data(grad)
        self.grad_map.set_clim(0.0, max(K, float(grad.max())) * 1.05)
        self.g_line.set_ydata(g[self.where.row])
        self.grad_line.set_ydata(grad[self.where.row])
        self.bound.set_ydata([K, K])
        for ax in self.axes[1, 1:]:
            ax.relim()
            ax.autoscale_view()
        self.axes[1, 2].set_ylim(0.0, max(K, float(grad.max())) * 1.15)
        self.axes[0, 1].set_title("g = D(x): jumps where regions meet")
        self.axes[0, 2].set_title(f"‖∇ₓg‖: max {grad.max():.4g} on the grid (K = {K:g})")
        self.axes[1, 1].set_title("g along the slice")
        self.axes[1, 2].set_title("‖∇ₓg‖ along the slice: flat per region, under K" if uses_eps(normalizer)
                                  else "‖∇ₓg‖ along the slice")
        shown_eps = f", ε = {eps:.0e}" if uses_eps(normalizer) else ""
        self.figure.suptitle(f"{method_label(normalizer, 'ns')}: D = {EXPLORED[normalizer]}, K = {K:g}{shown_eps}")

    def png(self) -> bytes:
        return png(self.figure)


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class Explorer:
    """The interactive form: a normaliser menu and K and ε sliders (log scale) above the figure, which each change
    redraws (:attr:`widget` is what a notebook displays)."""

    def __init__(self, net: nn.Module, normalizer: str = "gran", K: float | None = None,  # noqa: N803
                 eps: float = DEFAULT_EPS, smoke: bool = False, **plane_options):
        import ipywidgets as widgets  # a dev dependency, needed only for the interactive form

        self.view = ExplorerFigure(plane(net, **plane_options), smoke)
        self.controls = {
            "normalizer": widgets.Dropdown(options=[(method_label(n, "ns"), n) for n in EXPLORED], value=normalizer,
                                           description="normaliser", layout=widgets.Layout(width="24em")),
            "K": widgets.FloatLogSlider(value=default_K(normalizer) if K is None else K, base=10, min=-2, max=2,
                                        step=0.05, description="K",
                                        readout_format=".3g", continuous_update=False),
            "eps": widgets.FloatLogSlider(value=eps, base=10, min=-8, max=1, step=0.25, description="ε",
                                          readout_format=".0e", continuous_update=False),
        }
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.image])
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, change: dict | None = None) -> None:
        """Draw the figure for the controls' values (ε greyed out where the normaliser ignores it)."""
        normalizer = self.controls["normalizer"].value
        self.controls["eps"].disabled = not uses_eps(normalizer)
        self.view.update(normalizer, self.controls["K"].value, self.controls["eps"].value)
        self.image.value = self.view.png()


def static_figure(net: nn.Module, normalizer: str = "gran",
                  settings: tuple[tuple[float, float], ...] = STATIC_SETTINGS, smoke: bool = False,
                  **plane_options) -> Figure:
    """The explorer drawn once per (K, ε) of ``settings``, one row each: g, ‖∇ₓg‖, and both along the slice."""
    where = plane(net, **plane_options)
    figure = _figure((17, 3.6 * len(settings)))
    axes = figure.subplots(len(settings), 4, squeeze=False)
    for row, (K, eps) in zip(axes, settings):  # noqa: N806
        g, grad = normalised(where, normalizer, K, eps)
        setting = f"K = {K:g}, ε = {eps:.0e}" if uses_eps(normalizer) else f"K = {K:g}"
        _symmetric(_map(figure, row[0], where, g, "g(x)", "coolwarm"), g)
        _map(figure, row[1], where, grad, "‖∇ₓg(x)‖", "viridis").set_clim(0.0, max(K, float(grad.max())) * 1.05)
        _slice(row[2], where, g, "g(x)", "C3")
        _slice(row[3], where, grad, "‖∇ₓg(x)‖", "C2")
        row[3].axhline(K, color="k", ls="--", label="K")
        row[3].set_ylim(0.0, max(K, float(grad.max())) * 1.15)
        row[0].set_title(f"{setting}: g = D(x)")
        row[1].set_title(f"{setting}: ‖∇ₓg‖, max {grad.max():.4g}")
        row[2].set_title(f"{setting}: g along the slice")
        row[3].set_title(f"{setting}: ‖∇ₓg‖ along the slice")
        for ax in row[2:]:
            _legend(ax)
    figure.suptitle(f"{method_label(normalizer, 'ns')}: D = {EXPLORED[normalizer]}; one row per setting (black: region "
                    "boundaries)")
    return stamp(figure, smoke)


def widget_frontend() -> bool:
    """Whether widgets shown now are drawn: an IPython kernel started by a Jupyter server, with ipywidgets."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel") and SERVER_SESSION_ENV in os.environ


def show_explorer(net: nn.Module, smoke: bool = False, save_to: str | Path | None = None,
                  interactive: bool | None = None, normalizer: str = "gran", **plane_options) -> Explorer | Figure:
    """Display the explorer: interactive where a front end draws widgets (``interactive=None`` decides by
    :func:`widget_frontend`), else the static grid of :data:`STATIC_SETTINGS`; ``save_to`` receives the static grid as a
    PNG in either case; ``plane_options`` go to :func:`plane`. Returns the :class:`Explorer` or the static figure."""
    from IPython.display import Image, display

    interactive = widget_frontend() if interactive is None else interactive
    figure = static_figure(net, normalizer=normalizer, smoke=smoke, **plane_options) if save_to or not interactive \
        else None
    if save_to:
        figure.savefig(save_to)
    if interactive:
        explorer = Explorer(net, normalizer=normalizer, smoke=smoke, **plane_options)
        display(explorer.widget)
        return explorer
    display(Image(png(figure)))
    return figure

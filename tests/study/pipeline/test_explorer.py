import json

import nbformat
import numpy as np
import pytest
import yaml

from granlib.normalizers import method_label
from granlib.project import REPO_ROOT
from granlib.study.instruments.toy import relu_mlp
from granlib.study.pipeline import explorer
from granlib.study.pipeline.experiments import load_profile
from granlib.study.pipeline.explorer import (
    EXPLORED,
    SERVER_SESSION_ENV,
    Explorer,
    normalised,
    plane,
    show_explorer,
    static_figure,
    widget_frontend,
)

NOTEBOOK = REPO_ROOT / "notebooks" / "01_lipschitz_intuition.ipynb"


@pytest.fixture(scope="module")
def net():
    return relu_mlp(d_in=2, width=12, depth=3, seed=0)


@pytest.fixture(scope="module")
def small(net):
    return plane(net, resolution=48)


def test_each_normaliser_follows_its_formula_on_the_grid(small):
    """‖∇ₓg‖ per point against n = ‖∇f‖: K·n²/(n²+ε) (GraN, under K), K·n/(n+ε) (the ablation), K·n (none)."""
    n = small.grad_f
    formulas = {"gran": lambda K, e: K * n**2 / (n**2 + e), "gran_inverse": lambda K, e: K * n / (n + e),
                "none": lambda K, e: K * n}
    for normalizer, expected in formulas.items():
        for K, eps in ((0.1, 1e-4), (10.0, 1e-2)):
            g, grad = normalised(small, normalizer, K, eps)
            np.testing.assert_allclose(grad, expected(K, eps), rtol=1e-4, atol=1e-7)
            assert g.shape == small.f.shape
            if normalizer != "none":
                assert grad.max() < K
    g, _ = normalised(small, "gn", 3.0)
    assert np.abs(g).max() <= 3.0  # GN bounds the value (K = 3; reached where f is flat)


def test_the_menu_names_the_methods_as_the_paper_does(net):
    assert set(EXPLORED) == {"gran", "gran_inverse", "gn", "none"}
    labels = [label for label, _ in Explorer(net, resolution=8).controls["normalizer"].options]
    assert Explorer(net, resolution=8).view.figure._suptitle.get_text().startswith("GraND-GAN: D = K·f·n/(n²+ε), K = ")
    assert labels[0] == "GraND-GAN" and labels[2] == "GN-GAN"
    assert labels == [method_label(n, "ns") for n in EXPLORED]


def test_the_interactive_form_redraws_when_a_control_changes(net):
    view = Explorer(net, K=1.0, resolution=40)
    assert Explorer(net, resolution=8).controls["K"].value == 0.1  # the menu's normaliser's own default K
    controls, figure = view.controls, view.view
    first_png, first_grad = bytes(view.image.value), figure.grad_map.get_array().copy()
    assert first_png.startswith(b"\x89PNG") and {"normalizer", "K", "eps"} == set(controls)

    controls["K"].value = 10.0
    np.testing.assert_allclose(figure.grad_map.get_array(), 10 * first_grad, rtol=1e-4)  # K = 1 → 10
    assert bytes(view.image.value) != first_png and "K = 10" in figure.figure.get_suptitle()
    assert figure.bound.get_ydata()[0] == 10.0

    before = figure.grad_map.get_array().copy()
    controls["eps"].value = 1e-2
    after = figure.grad_map.get_array()
    assert (after <= before).all() and after.sum() < before.sum()  # a larger ε lowers GraN's bound (0 stays 0)

    controls["normalizer"].value = "gn"
    assert controls["eps"].disabled and figure.figure.get_suptitle().startswith("GN-GAN")


def test_the_static_form_has_titles_labelled_axes_and_colour_bars(net):
    settings = ((1.0, 1e-4), (10.0, 1e-4))
    figure = static_figure(net, settings=settings, resolution=32)
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    colour_bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(panels) == 4 * len(settings) and len(colour_bars) == 2 * len(settings)
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in panels)
    assert all(ax.get_ylabel() for ax in colour_bars)
    assert all(ax.get_legend() is not None for ax in panels if ax.get_xlabel().startswith("x₁ along"))
    assert figure.get_suptitle().startswith("GraND-GAN")


def test_widgets_only_where_a_jupyter_server_started_the_kernel(monkeypatch):
    class Kernel:
        kernel = object()

    monkeypatch.delenv(SERVER_SESSION_ENV, raising=False)
    assert not widget_frontend()  # no IPython kernel here
    monkeypatch.setattr("IPython.get_ipython", lambda: Kernel())
    assert not widget_frontend()  # a kernel without a server: papermill, nbconvert
    monkeypatch.setenv(SERVER_SESSION_ENV, "notebooks/01_lipschitz_intuition.ipynb")
    assert widget_frontend()


def test_show_explorer_displays_widgets_or_the_static_grid_and_saves_it(net, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    assert isinstance(show_explorer(net, save_to=tmp_path / "a.png", interactive=False, resolution=24), explorer.Figure)
    assert type(shown[-1]).__name__ == "Image" and (tmp_path / "a.png").stat().st_size > 0
    result = show_explorer(net, interactive=True, resolution=24)
    assert isinstance(result, Explorer) and shown[-1] is result.widget


@pytest.mark.slow
def test_the_explorer_cell_runs_under_papermill_as_a_static_figure(tmp_path, monkeypatch):
    """Notebook 01 up to its explorer cell, executed by papermill as ./run_all.sh does (smoke profile, results in a
    temporary directory): the cell shows a PNG and no widget, and saves the grid."""
    import papermill

    monkeypatch.delenv(SERVER_SESSION_ENV, raising=False)  # the kernel inherits this environment
    notebook = nbformat.reads(NOTEBOOK.read_text(), as_version=4)
    end = next(i for i, c in enumerate(notebook.cells) if "explorer" in c.metadata.get("tags", []))
    notebook.cells = notebook.cells[:end + 1]
    source = tmp_path / "01_until_explorer.ipynb"
    nbformat.write(notebook, source)
    params = load_profile("smoke")
    params.update(results_dir=str(tmp_path / "results"), runs_dir=str(tmp_path / "runs"))
    profile = tmp_path / "smoke.yaml"
    profile.write_text(yaml.safe_dump(params))
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(str(source), str(executed), parameters={"profile": str(profile)}, cwd=str(REPO_ROOT),
                               kernel_name="python3", progress_bar=False)
    cell = next(c for c in json.loads(executed.read_text())["cells"] if "explorer" in c["metadata"].get("tags", []))
    kinds = {kind for output in cell["outputs"] for kind in output.get("data", {})}
    assert "image/png" in kinds and "application/vnd.jupyter.widget-view+json" not in kinds
    assert (tmp_path / "results" / "figures" / "01_explorer.png").stat().st_size > 0

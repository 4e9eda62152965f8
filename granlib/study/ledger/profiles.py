"""The ledger studies' profiles: ``params/ledger/<study>.yaml`` of granlib's checkout, one entry per profile name,
read once and checked: every profile holds its study's required keys and nothing unknown (a
:class:`~granlib.study.pipeline.profiles.ProfileError` names the file, the profile and the key)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from granlib.project import REPO_ROOT, project_root
from granlib.study.pipeline.profiles import ProfileError, anchor_paths, parse, shown, suggest

PROFILES_DIR = REPO_ROOT / "params" / "ledger"
DATASET = "cifar10"  # what the image studies' folder stands for (rows carry its variant label)


@dataclass(frozen=True)
class StudyFields:
    """The keys of one study's profiles: ``required``, ``optional``, and those of them read as tuples (YAML lists)."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    tuples: tuple[str, ...] = ()


_OUTPUT = ("out_dir", "tables_dir", "figures_dir")
FIELDS = {
    "mixtures": StudyFields(required=("steps", "seeds", "n_eval", "n_points", "segments", "segment_points", "min_n",
                                      *_OUTPUT), optional=("steps_for",)),
    "images": StudyFields(required=("dataset_override", "eval_dataset_override", "dataset_variant",
                                    "feature_extractor", "data_root", "device", "iterations", "n_eval", "n_real",
                                    "seeds", "min_n", "model_overrides", "runs_dir", *_OUTPUT),
                          optional=("methods", "measure", "n_points", "segments", "segment_points", "noise_seeds",
                                    "pixel_images"),
                          tuples=("methods", "noise_seeds")),
    "costs": StudyFields(required=("repeats", "steps", "gap_batches")),
    "regime": StudyFields(required=("dataset_override", "eval_dataset_override", "dataset_variant",
                                    "feature_extractor", "data_root", "device", "iterations", "n_eval", "n_real",
                                    "seeds", "pixel_images", "model_overrides", "cells", "runs_dir", "out_dir",
                                    "figures_dir")),
}


def check(name: str, values: object, fields: StudyFields, source: str) -> dict:
    """One profile's settings, its lists of :attr:`StudyFields.tuples` as tuples; ProfileError when a key is
    missing or unknown."""
    if not isinstance(values, dict):
        raise ProfileError(f"{source}: profile {name!r}: expected a mapping of settings, got {values!r}")
    known = (*fields.required, *fields.optional)
    unknown = [f"unknown key {key!r}{suggest(key, known)}" for key in values if key not in known]
    missing = [f"missing key {key!r}" for key in fields.required if key not in values]
    if unknown or missing:
        raise ProfileError(f"{source}: profile {name!r}: {'; '.join(unknown + missing)}")
    return {key: tuple(value) if key in fields.tuples else value for key, value in values.items()}


def load_profiles(study: str, path: str | Path | None = None) -> dict[str, dict]:
    """Every profile of ``study`` (a key of :data:`FIELDS`) by name, from ``path`` (default: its file under
    :data:`PROFILES_DIR`)."""
    path = Path(path or PROFILES_DIR / f"{study}.yaml")
    profiles = parse(path)
    if not isinstance(profiles, dict) or not profiles:
        raise ProfileError(f"{shown(path)}: expected one entry per profile name")
    return {name: check(name, values, FIELDS[study], shown(path)) for name, values in profiles.items()}


def anchored_params(settings: dict, label: str, root: Path | None = None, results_dir: str | Path | None = None,
                    runs_dir: str | Path | None = None) -> dict:
    """A study profile's ``settings`` as :func:`granlib.study.pipeline.experiments.run_and_evaluate` takes them:
    ``profile`` = ``label``, ``out_dir`` (or ``results_dir``) as the results folder, ``runs_dir`` replaced when
    given, and every relative path made absolute in the project ``root`` the way a notebook profile's are
    (:func:`granlib.study.pipeline.profiles.anchor_paths`)."""
    root = Path(root or project_root())
    params = {**settings, "profile": label, "project_root": str(root),
              "runs_dir": str(runs_dir or settings["runs_dir"]), "results_dir": str(results_dir or settings["out_dir"])}
    return anchor_paths(params, root)

"""The profile schema: what a ``params/<name>.yaml`` may hold, checked before any notebook runs.

:func:`read_profile` returns a profile's parameters or raises :class:`ProfileError`, one line naming the file and
the field: a YAML syntax error or a duplicate key (``file:line:column``), an unknown key (with the nearest known
one), a missing key, a value of the wrong type or out of range, an unknown dataset or method (``normalizer/loss``,
the names of :data:`granlib.data.NAMES`, :data:`granlib.normalizers.NORMALIZERS` and
:data:`granlib.losses.LOSSES`). Fields that are config fields (``iterations``, ``K``, ``K_values``,
``feature_extractor``) and ``model_overrides`` are checked by :meth:`TrainConfig.from_dict` and
:func:`validate_config`, which own the config's field names and values; numbers come back as the config reads them
(``1e4`` → 10000). What only a whole run's config shows (a ``model_overrides`` field that does not fit a dataset's
architecture) is checked by the runner before any notebook runs (:func:`granlib.study.pipeline.runner.check_runs`).

The keys (:data:`FIELDS`) are those of the committed profiles and those of the notebooks' ``parameters`` cells that
the notebooks take from a profile, and ``plugins``: modules imported before anything else is checked, so that the
normalisers they register can be named in ``methods`` (:func:`import_plugins`). This module imports nothing of
:mod:`granlib.study`: experiments reads profiles through it.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from granlib.data import NAMES
from granlib.losses import LOSSES
from granlib.normalizers import NORMALIZERS, paper_methods, parse_method
from granlib.project import project_root
from granlib.training.config import ConfigError, TrainConfig, validate_config

DEVICES = ("cpu", "cuda", "auto")
PAPER = "paper"  # in a list of methods: the paper's comparison as the registry declares it (paper_methods())


class ProfileError(ValueError):
    """A profile that cannot run; the message is one line naming the file and the field."""


Check = Callable[[str, Any], Any]  # (field as shown, value) -> the value to use, or ProfileError(field: why)


def suggest(value: Any, names) -> str:
    """' (did you mean 'x'?)' for the name closest to ``value``, or ''."""
    close = difflib.get_close_matches(str(value), [str(n) for n in names], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: Any) -> str:
    return "null" if value is None else f"{value!r} ({type(value).__name__})"


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{name}: expected a non-empty string, got {_kind(value)}")
    return value


def optional(check: Check) -> Check:
    return lambda name, value: None if value is None else check(name, value)


def optional_text(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ProfileError(f"{name}: expected a string or null, got {_kind(value)}")
    return value


def whole(minimum: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ProfileError(f"{name}: expected a whole number >= {minimum}, got {_kind(value)}")
        return value
    return check


def choice(options) -> Check:
    def check(name: str, value: Any):
        if value not in options:
            raise ProfileError(f"{name}: {value!r} is not one of {', '.join(map(str, options))}"
                               f"{suggest(value, options)}")
        return value
    return check


def list_of(check: Check, at_least: int = 0) -> Check:
    def checked(name: str, value: Any) -> list:
        if not isinstance(value, list) or len(value) < at_least:
            wanted = "a list" if not at_least else f"a list of at least {at_least}"
            raise ProfileError(f"{name}: expected {wanted}, got {_kind(value)}")
        return [check(f"{name}[{i}]", item) for i, item in enumerate(value)]
    return checked


def config_field(field: str, allow_null: bool = False) -> Check:
    """A value the training config takes as ``field``: typed and ranged by the config's own checks."""
    def check(name: str, value: Any):
        if value is None and not allow_null:
            raise ProfileError(f"{name}: expected a value, got null")
        try:
            config = TrainConfig.from_dict({field: value})
            validate_config(config)
        except (ConfigError, TypeError) as error:
            raise ProfileError(str(error) if name == field else f"{name}: {error}") from None
        return getattr(config, field)
    return check


def dataset(name: str, value: Any) -> str:
    return choice(NAMES)(name, value)


def dataset_or_folder(name: str, value: Any) -> str:
    """A dataset name, or ``imagefolder:<path>`` (the folder's existence is checked when it is loaded)."""
    if isinstance(value, str) and value.startswith("imagefolder:") and value.partition(":")[2]:
        return value
    if value not in NAMES:
        raise ProfileError(f"{name}: {value!r} is not one of {', '.join(NAMES)} or 'imagefolder:<path>'"
                           f"{suggest(value, NAMES)}")
    return value


def method(name: str, value: Any) -> str:
    """'normalizer/loss', a registered normaliser (:data:`granlib.normalizers.NORMALIZERS`) and a loss."""
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        parse_method(value)
    except ValueError:
        known = [f"{normalizer}/{loss}" for normalizer in NORMALIZERS for loss in LOSSES]
        raise ProfileError(f"{name}: {value!r} is not a method 'normalizer/loss'{suggest(value, known)}; "
                           f"normalisers: {', '.join(NORMALIZERS)}; losses: {', '.join(LOSSES)}") from None
    return value


def methods(name: str, value: Any) -> list[str]:
    """A list of methods, where ``paper`` stands for the paper's comparison (the registry's
    :func:`~granlib.normalizers.paper_methods`: a newly registered normaliser joins it); each method once."""
    listed = list_of(lambda where, item: item if item == PAPER else method(where, item))(name, value)
    return list(dict.fromkeys(m for item in listed for m in (paper_methods() if item == PAPER else [item])))


def profile_name(name: str, value: Any) -> str:
    """Names the folders of executed copies and logs: a plain name."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or value in (".", ".."):
        raise ProfileError(f"{name}: expected a name of letters, digits, '_', '-' or '.', got {_kind(value)}")
    return value


def model_overrides(name: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ProfileError(f"{name}: expected a mapping of training config fields, got {_kind(value)}")
    try:
        validate_config(TrainConfig.from_dict(value))
    except (ConfigError, TypeError) as error:
        fields = [f.name for f in dataclasses.fields(TrainConfig)]
        hints = "".join(suggest(key, fields) for key in value if key not in fields)
        raise ProfileError(f"{name}: {error}{hints}") from None
    return value


def import_plugins(name: str, value: Any, root: str | Path | None = None) -> list[str]:
    """Import a profile's ``plugins`` before its methods are checked, so that a normaliser registered outside
    granlib (``register_normalizer`` in the plugin) can be named in ``methods``. Each entry is an importable module
    name, or the path of a ``.py`` file (relative to the project ``root``); it is imported once per process under a
    stable name, so a second import re-registers the same declaration (which the registry accepts)."""
    root = Path(root or project_root())
    imported = []
    for entry in list_of(text)(name, value):
        try:
            if entry.endswith(".py"):
                path = Path(entry).expanduser()
                path = path if path.is_absolute() else root / path
                module_name = f"granlib_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
                if module_name not in sys.modules:
                    spec = importlib.util.spec_from_file_location(module_name, path)
                    if spec is None or not path.is_file():
                        raise FileNotFoundError(f"no file {path}")
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[module_name] = module
                    try:
                        spec.loader.exec_module(module)
                    except BaseException:
                        del sys.modules[module_name]
                        raise
            else:
                if str(root) not in sys.path:
                    sys.path.append(str(root))  # a module of the project, wherever the process runs
                importlib.import_module(entry)
        except Exception as error:  # any failure of a user's module is a profile that cannot run
            raise ProfileError(f"{name}: {entry!r} could not be imported ({type(error).__name__}: {error})") from None
        imported.append(entry)
    return imported


# key -> (required, check); the order is the order of the committed profiles
FIELDS: dict[str, tuple[bool, Check]] = {
    "plugins": (False, import_plugins),  # first: the modules that register normalisers the methods may name
    "profile": (True, profile_name),
    "device": (False, choice(DEVICES)),
    "results_dir": (True, text),
    "runs_dir": (True, text),
    "data_root": (False, optional_text),
    "dataset_override": (False, optional(dataset_or_folder)),
    "eval_dataset_override": (False, optional(dataset_or_folder)),
    "dataset_variant": (False, optional_text),
    "datasets": (True, list_of(dataset)),
    "iterations": (True, config_field("iterations")),
    "n_eval": (True, whole(1)),
    "n_real": (False, whole(1)),
    "feature_extractor": (False, config_field("eval_feature_extractor")),
    "seeds": (True, list_of(whole(0), at_least=1)),
    "methods": (True, methods),
    "K": (False, config_field("K", allow_null=True)),
    "K_values": (True, list_of(config_field("K"))),
    "sweep_dataset": (True, dataset),
    "sweep_methods": (True, methods),
    "model_overrides": (False, model_overrides),
    "toy_steps": (True, whole(1)),
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a profile that names a field twice is refused instead (a merge key
    ``<<: *anchor`` is not a field: the keys written beside it override what it merges)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def shown(path: Path) -> str:
    """``path`` relative to the current directory when it lies inside it (as a user typed it), else absolute."""
    path = Path(path).absolute()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def parse(path: Path) -> Any:
    """The YAML of ``path``; a syntax error or a duplicate key is a ProfileError at ``file:line:column``."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as error:
        raise ProfileError(f"{shown(path)}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except yaml.MarkedYAMLError as error:
        mark, started = error.problem_mark or error.context_mark, error.context_mark
        where = f"{shown(path)}:{mark.line + 1}:{mark.column + 1}" if mark else shown(path)
        context = f" ({error.context}" if error.context and error.context != error.problem else ""
        if context and started and started.line != mark.line:
            context += f" started at line {started.line + 1}"
        context += ")" if context else ""
        raise ProfileError(f"{where}: YAML: {error.problem}{context}") from None
    except yaml.YAMLError as error:
        raise ProfileError(f"{shown(path)}: YAML: {' '.join(str(error).split())}") from None


def validate(values: Any, source: str = "profile") -> dict:
    """The parameters of a parsed profile, checked; ``source`` names it in the error."""
    def fail(detail: str):
        raise ProfileError(f"{source}: {detail}")

    if not isinstance(values, dict):
        fail(f"expected a mapping of parameters, got {_kind(values)}")
    unknown = [key for key in values if key not in FIELDS]
    if unknown:
        hints = [suggest(key, FIELDS) for key in unknown]
        fail("; ".join(f"unknown key {key!r}{hint}" for key, hint in zip(unknown, hints))
             + ("" if all(hints) else f" (known keys: {', '.join(FIELDS)})"))
    missing = [key for key, (required, _) in FIELDS.items() if required and key not in values]
    if missing:
        fail(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    params = {}
    ordered = sorted(values.items(), key=lambda item: item[0] != "plugins")  # plugins before the methods they add
    for key, value in ordered:
        try:
            params[key] = FIELDS[key][1](key, value)
        except ProfileError as error:
            fail(str(error))
    return params


def read_profile(path: str | Path) -> dict:
    """The checked parameters of the profile at ``path``."""
    path = Path(path)
    return validate(parse(path), shown(path))


ANCHORED_DIRS = ("results_dir", "runs_dir", "data_root")  # folders of the project, when relative
ANCHORED_DATASETS = ("dataset_override", "eval_dataset_override")  # their ``imagefolder:<path>``, when relative


def anchor_paths(params: dict, root: str | Path) -> dict:
    """``params`` with every relative path made absolute in the project ``root``, whatever the current directory
    (a notebook's kernel runs in ``notebooks/``): :data:`ANCHORED_DIRS` and the folder of an ``imagefolder:`` dataset
    in :data:`ANCHORED_DATASETS`. Absolute paths, dataset names and unset fields stay as they are."""
    root, anchored = Path(root), dict(params)
    for key in ANCHORED_DIRS:
        if anchored.get(key):
            anchored[key] = str(root / Path(anchored[key]).expanduser())
    for key in ANCHORED_DATASETS:
        kind, _, folder = str(anchored.get(key) or "").partition(":")
        if kind == "imagefolder" and folder:
            anchored[key] = f"imagefolder:{root / Path(folder).expanduser()}"
    return anchored

# Sourced by run_all.sh and run_tests.sh: sets PY to a Python that imports granlib from this checkout, with every
# dependency of .[dev,proxy] installed and the Jupyter kernel "Python (granlib)" registered; in a git clone, the
# nbstripout filter that .gitattributes names is configured, so a notebook saved with outputs stays clean in git.
# Uses the active environment (venv or conda) when it already has granlib installed from here; otherwise creates
# .venv and installs torch, then this package with its dev extras. Override the torch install with
# GRANLIB_TORCH_SPEC (e.g. "torch torchvision" for the newest builds).
# An install is complete only once the marker <env>/.granlib-setup-complete holds the hash of pyproject.toml: an
# interrupted install (no marker) or a changed pyproject.toml (another hash) is finished or redone on the next call.
repo_root="$(pwd)"
setup_marker=".granlib-setup-complete"
granlib_here() {
  "$1" - "$repo_root" <<'PY' 2>/dev/null
import pathlib, sys
import granlib
sys.exit(0 if pathlib.Path(granlib.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve()) else 1)
PY
}
setup_hash() {
  if command -v sha256sum >/dev/null; then sha256sum "$repo_root/pyproject.toml" | cut -d' ' -f1
  else shasum -a 256 "$repo_root/pyproject.toml" | cut -d' ' -f1; fi
}
env_dir() { dirname "$(dirname "$1")"; }  # <env>/bin/python -> <env>
PY=""
for candidate in "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" "${CONDA_PREFIX:+$CONDA_PREFIX/bin/python}" \
                 "$repo_root/.venv/bin/python"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && granlib_here "$candidate"; then PY="$candidate"; break; fi
done
if [ -z "$PY" ]; then
  base_python="$(command -v python3.11 || command -v python3.12 || command -v python3.10 || command -v python3)"
  "$base_python" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' || {
    echo "granlib needs Python 3.10-3.12; found $("$base_python" --version 2>&1)" >&2; exit 1; }
  echo "== setting up .venv with $("$base_python" --version) (first run only)" >&2
  "$base_python" -m venv "$repo_root/.venv"
  PY="$repo_root/.venv/bin/python"
fi
marker="$(env_dir "$PY")/$setup_marker"
if [ "$(cat "$marker" 2>/dev/null)" != "$(setup_hash)" ]; then
  echo "== installing granlib[dev,proxy] into $(env_dir "$PY") (set-up missing, interrupted or out of date)" >&2
  rm -f "$marker"
  "$PY" -m pip install -q --upgrade pip
  if ! "$PY" -c 'import torch, torchvision' 2>/dev/null; then
    # shellcheck disable=SC2086
    "$PY" -m pip install -q ${GRANLIB_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}
  fi
  "$PY" -m pip install -q -e "$repo_root[dev,proxy]"
  "$PY" -m ipykernel install --sys-prefix --name granlib --display-name "Python (granlib)" >/dev/null
  setup_hash > "$marker"  # written last: only a complete install has it
fi
export PY
# The filter .gitattributes names for notebooks/ (what `nbstripout --install --attributes .gitattributes` configures,
# with --keep-id so the committed cell ids stay as they are); set once per clone, and again if its Python is gone.
if git -C "$repo_root" rev-parse --git-dir >/dev/null 2>&1; then
  strip_filter="\"$PY\" -m nbstripout --keep-id"
  if [ "$(git -C "$repo_root" config --get filter.nbstripout.clean)" != "$strip_filter" ]; then
    git -C "$repo_root" config filter.nbstripout.clean "$strip_filter"
    git -C "$repo_root" config filter.nbstripout.smudge cat
    git -C "$repo_root" config filter.nbstripout.required true
    git -C "$repo_root" config diff.ipynb.textconv "\"$PY\" -m nbstripout -t"
    # re-read the notebooks through the filter once now, so that later git status calls (granlib's provenance runs
    # one per run) find the index fresh instead of filtering every notebook again
    git -C "$repo_root" update-index -q --refresh >/dev/null 2>&1 || true
  fi
fi

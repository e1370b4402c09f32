# Sourced by scripts/test and scripts/demo: make .venv current (created on first use,
# reinstalled only when a requirements file or a package's metadata changes).
VENV=${DOORWARD_VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
packages=$(ls -d packages/*/ | sed 's#^#-e #')
want=$(cat requirements/*.txt packages/*/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.doorward-installed" 2>/dev/null)" != "$want" ]; then
  echo "setting up $VENV (first run only; about a minute)"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    $(ls requirements/*.txt | sed 's#^#-r #') $packages \
    2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$VENV/.doorward-installed"
fi
export PATH="$PWD/$VENV/bin:$PATH"

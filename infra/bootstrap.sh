#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine, once:
#   - PostgreSQL + PostGIS from apt (unless DATABASE_URL points elsewhere), as root or via sudo;
#     without either it prints the exact command and stops;
#   - a CJK font (Debian's fonts-noto-cjk) for evidence captions and documents, the same way;
#     without root it prints the command and goes on (captions then fail with that advice);
#   - a virtual environment in .venv with the project and its development tools.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMP="$VENV/.installed"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@";
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
  else return 99; fi
}

have_postgis() {
  for control in /usr/share/postgresql/*/extension/postgis.control; do
    [ -e "$control" ] || continue
    version=$(basename "$(dirname "$(dirname "$control")")")
    [ -x "/usr/lib/postgresql/$version/bin/initdb" ] && return 0
  done
  return 1
}

have_cjk_font() {
  [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && return 0
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list ':lang=zh-cn' file 2>/dev/null | head -n 1)" ]
}

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

packages=()
if [ -z "${DATABASE_URL:-}" ] && ! have_postgis; then
  packages+=(postgresql postgresql-postgis)
fi
PYTHON=$(pick_python || true)
if [ -z "$PYTHON" ]; then
  packages+=(python3 python3-venv)
elif [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  packages+=(python3-venv)
fi
if ! command -v runuser >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  packages+=(util-linux)
fi

wanted=()  # good to have: the service runs without them, with a clear error where needed
if ! have_cjk_font; then
  wanted+=(fonts-noto-cjk)
fi

all=("${packages[@]}" "${wanted[@]}")
if [ ${#all[@]} -gt 0 ]; then
  say "installing system packages: ${all[*]}"
  set +e
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  status=$?
  if [ "$status" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${all[@]}" >/dev/null
    status=$?
  fi
  set -e
  if [ "$status" != 0 ] && [ ${#packages[@]} -eq 0 ]; then
    echo "warning: could not install ${wanted[*]} (evidence captions need a CJK font). Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${wanted[*]}" >&2
  elif [ "$status" = 99 ]; then
    echo "This needs root to install ${all[*]}. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${all[*]}" >&2
    echo "or set DATABASE_URL to an existing PostgreSQL/PostGIS database." >&2
    exit 1
  elif [ "$status" != 0 ]; then
    echo "apt-get failed ($status)" >&2
    exit "$status"
  fi
  PYTHON=$(pick_python)
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "installing Python dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$STAMP"
fi

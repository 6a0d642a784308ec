"""``./hive`` on a checkout whose .venv an unsuitable Python made: it says so, rebuilds
it and says "installing…" before installing. Pythons here are small shell stand-ins
(a real install would take minutes), so the script's own decisions are what is tested."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess

from tests.hive_helpers import ROOT

# A stand-in python: answers the version check as $FAKE_OK says, makes venvs as copies
# of itself, and "installs" by logging and leaving a makerhive that prints its version.
FAKE = r"""#!/bin/sh
case "$1" in
  -c) [ "$FAKE_OK" = 1 ] && exit 0; exit 1 ;;
  -V) [ "$FAKE_OK" = 1 ] && echo "Python 3.11.9" || echo "Python 3.8.10" ;;
  -m) case "$2" in
        venv) mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; chmod +x "$3/bin/python";
              echo "venv by $0" >> "$HIVE_LOG" ;;
        pip)  echo "pip $*" >> "$HIVE_LOG"; d=$(dirname "$0");
              printf '#!/bin/sh\necho makerhive 0.1.0\n' > "$d/makerhive"; chmod +x "$d/makerhive" ;;
      esac ;;
esac
"""


def _fake(path, ok: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE.replace('"$FAKE_OK" = 1', "1 = 1" if ok else "1 = 0"))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _hive(tmp_path, *args, python):
    env = {**os.environ, "PYTHON": str(python), "HIVE_LOG": str(tmp_path / "log")}
    return subprocess.run([str(tmp_path / "hive"), *args], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path)


def test_a_venv_of_an_old_python_is_rebuilt_with_a_word_before_installing(tmp_path):
    shutil.copy(ROOT / "hive", tmp_path / "hive")
    (tmp_path / "pyproject.toml").write_text("")
    _fake(tmp_path / ".venv" / "bin" / "python", ok=False)  # made by Python 3.8
    good = tmp_path / "py311"
    _fake(good, ok=True)
    out = _hive(tmp_path, "--version", python=good)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "makerhive 0.1.0"
    err = out.stderr
    assert "unsuitable Python (Python 3.8.10)" in err and "rebuilding" in err
    assert err.index("creating .venv with Python 3.11.9") < err.index("installing…")
    log = (tmp_path / "log").read_text()
    assert f"venv by {good}" in log and "pip" in log
    again = _hive(tmp_path, "--version", python=good)  # nothing to do the second time
    assert again.returncode == 0 and again.stderr == ""


def test_an_unsuitable_python_to_build_with_is_refused_with_what_to_do(tmp_path):
    shutil.copy(ROOT / "hive", tmp_path / "hive")
    (tmp_path / "pyproject.toml").write_text("")
    old = tmp_path / "py38"
    _fake(old, ok=False)
    out = _hive(tmp_path, "--version", python=old)
    assert out.returncode == 2
    assert "is Python 3.8.10; makerhive needs Python >= 3.11 (set PYTHON=" in out.stderr
    assert not (tmp_path / ".venv").exists()

"""A non-editable install of the package into a fresh virtual environment gives a working report.

The wheel is built from a copy of the working tree's files (so no build output lands in the
tree) with pip's own build isolation and cache. The fresh environment gets the wheel alone
(``--no-deps``) and borrows the dependencies of the running environment through a ``.pth``
path line, which adds that folder to ``sys.path`` without running its ``.pth`` files (so not
the editable-install hook of this checkout). What the test shows is the packaging: templates,
catalogue and entry point all come from the installed wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tracked_copy(target: Path) -> Path:
    # tracked files and new ones not yet committed (ignored build output excluded)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow  # a wheel build and a fresh environment: run by make test-slow (CI)
def test_fresh_install_builds_a_report(tmp_path):
    source = _tracked_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
         str(source)],
        check=True, cwd=tmp_path, timeout=900, capture_output=True,
    )
    (wheel,) = wheels.glob("derive-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, cwd=tmp_path, timeout=900, capture_output=True,
    )
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site.strip()) / "zz_dependencies.pth").write_text("\n".join(borrowed) + "\n")

    out = tmp_path / "out"
    # --no-pdf: compiling the reports is covered by test_report_pdf.py
    args = [str(bin_dir / "derive"), "report", "rnn-cnn-hw", "--no-pdf", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode in (0, 1), done.stderr  # 1: a check failed, reported in the PDF
    tex = (out / "rnn-cnn-hw.tex").read_text()
    assert "Binary addition RNN" in tex and r"\end{document}" in tex
    assert r"\begin{align*}" in tex  # the statements' equations, from the shipped catalogue
    # the package, its templates and its catalogue came from the fresh install, not this tree
    located = subprocess.run(
        [str(python), "-c", "import derive, derive.catalogue as c; print(derive.__file__); "
         "print(c.catalogue_text()[:30])"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout
    assert str(env_dir) in located.splitlines()[0] and "catalogue" in located
    # the problem-set template and the claims grammar ship with the package too
    made = subprocess.run([str(bin_dir / "derive"), "new-set", "hw.toml"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert made.returncode == 0, made.stderr
    done = subprocess.run([str(bin_dir / "derive"), "report", "hw.toml", "--no-pdf", "--out",
                           str(tmp_path / "keys")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert r"\end{document}" in next((tmp_path / "keys").glob("*.tex")).read_text()

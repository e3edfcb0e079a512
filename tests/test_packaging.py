"""What a user installs can write the document: the wheel carries templates/ where render looks.

templates/ stays top-level in the repository and the build maps it to symbp/templates/. The
wheel is built from a copy of the source (so the repository's build/ folder is neither used nor
touched), unpacked as an installed layout and run from another folder: it must find its own
templates, not the repository's, and write the same bytes as the source tree (which
test_cli.py compares with output/). .ci/wheel-check compares a wheel built from the sdist,
installed in a fresh virtual environment without PyTorch, with output/ itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from symbp.cli import main
from symbp.document import render

REPO = Path(__file__).resolve().parent.parent
SOURCE_FILES = ("pyproject.toml", "README.md", "MANIFEST.in")
SOURCE_FOLDERS = ("symbp", "templates")
OUTPUTS = ("gradients.py", "cnn_backprop.tex", "cnn_backprop.md")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source tree, without build isolation (no network)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, source / name)
    for name in SOURCE_FOLDERS:
        shutil.copytree(
            REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (root / "dist").glob("symbp-*.whl")
    return built


def template_files() -> list[str]:
    folder = REPO / "templates"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_every_module_is_in_the_wheel(wheel: Path) -> None:
    """pyproject.toml lists the packages by hand (templates/ is mapped into one of them): a
    subpackage left off the list would be missing from every install but the editable one."""
    modules = sorted(
        p.relative_to(REPO).as_posix()
        for p in (REPO / "symbp").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert [m for m in modules if m not in names] == []


def test_every_template_is_in_the_wheel_where_render_looks(wheel: Path) -> None:
    package = Path(render.__file__).resolve().parent.parent  # symbp/
    where = render.TEMPLATE_FOLDERS[0].relative_to(package.parent).as_posix()  # symbp/templates
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [f for f in template_files() if f"{where}/{f}" not in names]
        assert not missing, f"not in the wheel under {where}/: {missing}"
        for name in template_files():
            assert archive.read(f"{where}/{name}") == (REPO / "templates" / name).read_bytes()
    assert len(template_files()) > 40


LOAD_EVERY_TEMPLATE = """
import sys
from pathlib import Path
from symbp.document import render
folder = render.templates_folder()
assert folder.is_relative_to(Path(sys.argv[1]).resolve()), folder
env = render.environment()
names = env.list_templates()
for name in names:
    env.get_template(name)
print(len(names))
"""


def test_an_installed_wheel_finds_its_templates_and_writes_the_same_bytes(
    wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_EVERY_TEMPLATE, str(site)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert int(loaded.stdout) == len(template_files())
    derived = subprocess.run(
        [sys.executable, "-m", "symbp", "derive", "--format", "py,tex,md", "--out", "out"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert derived.returncode == 0, derived.stdout + derived.stderr
    source = tmp_path / "source"
    assert main(["derive", "--format", "py,tex,md", "--out", str(source)]) == 0
    capsys.readouterr()
    for name in OUTPUTS:
        assert (elsewhere / "out" / name).read_bytes() == (source / name).read_bytes(), name


def test_missing_templates_say_how_to_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "TEMPLATE_FOLDERS", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(FileNotFoundError, match=r"not found in .*a or .*b; .*pip install \."):
        render.templates_folder()

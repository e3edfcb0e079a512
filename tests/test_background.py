"""Work on the other core (symbp.support.background) and compiled templates cached on disk:
both only change the wall time, never an answer, and both fail over to doing the work here."""

from __future__ import annotations

import os

import pytest

from symbp.support import background
from symbp.support.background import Background


def _square(x: int) -> int:
    return x * x


def _pid() -> int:
    return os.getpid()


def test_the_result_comes_from_a_forked_child():
    job = Background(_pid)
    assert job.forked
    assert job.result() != os.getpid()  # computed elsewhere, by a child of this process


def test_without_fork_the_function_runs_here(monkeypatch):
    monkeypatch.setenv("SYMBP_BACKGROUND", "0")
    job = Background(_pid)
    assert not job.forked and job.result() == os.getpid()


def test_a_child_that_dies_silently_means_the_work_is_done_here():
    parent = os.getpid()

    def dies_in_the_child() -> int:
        if os.getpid() != parent:
            os._exit(3)  # as if killed or out of memory
        return 42

    assert Background(dies_in_the_child).result() == 42


def test_an_error_in_the_child_is_raised_here_by_rerunning():
    def fails() -> int:
        raise ValueError("the spec is wrong")

    with pytest.raises(ValueError, match="the spec is wrong"):
        Background(fails).result()


def test_a_result_that_does_not_pickle_is_computed_here():
    parent = os.getpid()

    def unpicklable():
        return (lambda: 1) if os.getpid() != parent else "here"

    assert Background(unpicklable).result() == "here"


def test_the_child_is_gone_after_the_result(monkeypatch):
    job = Background(lambda: _square(7), nice=5)
    process = job._process
    assert job.result() == 49 and process is not None and not process.is_alive()


def test_proofs_forked_or_not_are_the_same(monkeypatch):
    from symbp.pipeline import check_spec
    from symbp.spec.model import NetworkSpec

    spec = NetworkSpec(input_shape=(7, 7), padding=1, stride=2, pool_size=1)
    forked = check_spec(spec).proofs
    monkeypatch.setenv("SYMBP_BACKGROUND", "0")
    here = check_spec(spec).proofs
    assert forked == here and all(p.holds for p in here)
    assert background.enabled() is False


# ------------------------------------------------------------------ compiled templates
def test_cached_templates_render_the_same_bytes_and_are_reused(tmp_path):
    from symbp.document import render

    cache = render.CompiledTemplates(str(tmp_path))
    first = render.make_environment(cache).get_template("latex/laws.tex")
    entries = sorted(tmp_path.iterdir())
    assert entries, "nothing was written to the cache"
    stamps = [e.stat().st_mtime_ns for e in entries]
    again = render.make_environment(render.CompiledTemplates(str(tmp_path)))
    second = again.get_template("latex/laws.tex")
    plain = render.make_environment(None).get_template("latex/laws.tex")
    assert [
        e.stat().st_mtime_ns for e in sorted(tmp_path.iterdir())
    ] == stamps  # read, not rewritten
    code = [t.root_render_func.__code__.co_code for t in (first, second, plain)]
    assert code[0] == code[1] == code[2]


def test_a_corrupt_cache_entry_is_compiled_again(tmp_path):
    from symbp.document import render

    render.make_environment(render.CompiledTemplates(str(tmp_path))).get_template("latex/chain.tex")
    for entry in tmp_path.iterdir():
        entry.write_bytes(b"not a template")
    env = render.make_environment(render.CompiledTemplates(str(tmp_path)))
    assert env.get_template("latex/chain.tex") is not None


def test_an_unusable_cache_folder_means_no_cache(tmp_path):
    """A cache 'folder' that is a file (root ignores permissions, so not a read-only one):
    every read and write fails, and templates are compiled as if there were no cache."""
    from symbp.document import render

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    env = render.make_environment(render.CompiledTemplates(str(not_a_folder)))
    assert env.get_template("latex/chain.tex") is not None
    assert not_a_folder.read_text() == ""

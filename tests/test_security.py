"""Regression tests for a security hole: a checkpoint's ``files`` map reaching outside its run
folder. They use only what polyface offered before the fix (the CLI, ``evolve``), so they run
against it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from polyface.cli import cli

from test_bad_inputs import assert_one_line_error, snapshot

CHECKPOINT, LOG = "checkpoint.json", "log.jsonl"


from run_fixtures import copy_run, interrupted  # noqa: F401  (interrupted: a fixture)


# ---- security: the checkpoint's files map --------------------------------------------------


@pytest.mark.parametrize("how", ["parent-key", "absolute-key", "link-out"])
def test_checkpoint_cannot_truncate_a_file_outside_the_run(interrupted, tmp_path, monkeypatch, how):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n" * 100)
    run = copy_run(interrupted, tmp_path / "run")
    doc = json.loads((run / CHECKPOINT).read_text())
    if how == "parent-key":
        doc["files"]["../victim.txt"] = 0
    elif how == "absolute-key":
        doc["files"][str(victim)] = 0
    else:  # log.jsonl replaced by a link to the victim: resume would cut it to the recorded size
        (run / LOG).unlink()
        (run / LOG).symlink_to(victim)
        doc["files"][LOG] = 3
    (run / CHECKPOINT).write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    before = snapshot(run)
    line = assert_one_line_error(CliRunner().invoke(cli, ["evolve", "--quiet", "--resume", "run"]), ("checkpoint.json" if how != "link-out" else "log.jsonl",))
    assert "files" in line or "outside" in line
    assert victim.read_text() == "precious\n" * 100
    assert snapshot(run) == before

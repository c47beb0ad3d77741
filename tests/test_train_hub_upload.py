"""Hub uploads run in the background, retry on failure, and never raise into training."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from huggingface_hub import HfApi

from train.publish import HubUploader


def _export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_failed_uploads_are_logged_and_retried(tmp_path: Path, monkeypatch, caplog) -> None:
    calls = []

    def flaky_upload(self, *, repo_id, folder_path, **kwargs):
        calls.append(sorted(p.name for p in Path(folder_path).iterdir()))
        if len(calls) < 3:
            raise ConnectionError("Hub unreachable")

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: None)
    monkeypatch.setattr(HfApi, "upload_folder", flaky_upload)
    uploader = HubUploader("someone/repo", tmp_path / "staging", retries=3, retry_wait=0.0)
    export = _export(tmp_path / "export")
    with caplog.at_level(logging.WARNING, logger="train.publish"):
        uploader.submit(export, "gan-1: generator")
        shutil.rmtree(export)  # e.g. a pruned checkpoint: the staged copy is what gets uploaded
        uploader.close()
    assert calls == [["config.json", "model.safetensors"]] * 3
    assert uploader.failed == 0
    assert "failed (try 1 of 3)" in caplog.text and "retrying" in caplog.text


def test_an_upload_that_keeps_failing_is_given_up_without_raising(tmp_path: Path, monkeypatch, caplog) -> None:
    def broken(self, *args, **kwargs):
        raise PermissionError("401 Unauthorized")

    monkeypatch.setattr(HfApi, "create_repo", broken)
    monkeypatch.setattr(HfApi, "upload_folder", broken)
    uploader = HubUploader("someone/repo", tmp_path / "staging", retries=2, retry_wait=0.0)
    with caplog.at_level(logging.WARNING, logger="train.publish"):
        uploader.submit(_export(tmp_path / "export"), "pretrain-g: generator")
        uploader.close()
    assert uploader.failed == 1
    assert "gave up uploading 'pretrain-g: generator'" in caplog.text and "401 Unauthorized" in caplog.text
    assert not any((tmp_path / "staging").rglob("*.safetensors"))

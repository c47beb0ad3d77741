"""Background uploads of exported models to one Hub repo; training never waits for or dies of them.

Only export folders (what `save_pretrained` writes) are uploaded, never `checkpoint-*` folders.
Each folder is copied to a staging area first, so checkpoint pruning cannot delete it mid-upload.
A failed upload is logged and retried with growing waits; after the last try it is logged as lost
with the command that uploads it by hand, and training goes on.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi

log = logging.getLogger(__name__)


@dataclass
class _Job:
    staged: Path
    path_in_repo: str
    message: str


class HubUploader:
    """One worker thread uploading queued folders to `repo_id`, in order."""

    def __init__(self, repo_id: str, staging_root: Path, *, private: bool = True, retries: int = 3,
                 retry_wait: float = 30.0):
        self.repo_id, self.private = repo_id, private
        self.retries, self.retry_wait = retries, retry_wait
        self.api = HfApi()  # token from HF_TOKEN / the hf login cache, as everywhere in huggingface_hub
        self.failed = 0
        staging_root.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix="hub-upload-", dir=staging_root))
        self._repo_ready = False
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="hub-upload", daemon=True)
        self._thread.start()

    def submit(self, folder: Path, message: str, path_in_repo: str = "") -> None:
        """Queue a snapshot of `folder` for upload to `path_in_repo` ("" = the repo root)."""
        staged = self._staging / f"{time.monotonic_ns()}-{folder.name}"
        shutil.copytree(folder, staged)
        self._jobs.put(_Job(staged, path_in_repo, message))

    def close(self) -> None:
        """Wait for the queued uploads to finish (or fail), then remove the staging area."""
        pending = self._jobs.qsize()
        if pending:
            log.info("waiting for %d Hub upload(s) to %s", pending, self.repo_id)
        self._jobs.put(None)
        self._thread.join()
        shutil.rmtree(self._staging, ignore_errors=True)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._upload(job)
            shutil.rmtree(job.staged, ignore_errors=True)

    def _upload(self, job: _Job) -> None:
        for attempt in range(1, self.retries + 1):
            try:
                if not self._repo_ready:
                    self.api.create_repo(self.repo_id, private=self.private, exist_ok=True)
                    self._repo_ready = True
                self.api.upload_folder(repo_id=self.repo_id, folder_path=job.staged,
                                       path_in_repo=job.path_in_repo or None, commit_message=job.message)
                log.info("uploaded to https://huggingface.co/%s: %s", self.repo_id, job.message)
                return
            except Exception as err:  # network, auth, rate limit, server error: none may stop training
                wait = self.retry_wait * 2 ** (attempt - 1)
                last = attempt == self.retries
                log.warning("Hub upload to %s failed (try %d of %d): %s: %s%s", self.repo_id, attempt, self.retries,
                            type(err).__name__, err, "" if last else f"; retrying in {wait:.0f}s")
                if not last:
                    time.sleep(wait)
        self.failed += 1
        log.error("gave up uploading '%s' to %s; training goes on. Upload it later with: hf upload %s <export folder>",
                  job.message, self.repo_id, self.repo_id)

"""What a run leaves behind: checkpoints, each phase's exports with their model cards, and uploads
of the exported models to the Hub. Every folder is written through `colorizer.io.files.atomic_folder`.

Hub uploads run in the background; training never waits for or dies of them. Only export folders
(what `save_pretrained` writes) are uploaded, never `checkpoint-*` folders. Each folder is copied to
a staging area first, so checkpoint pruning cannot delete it mid-upload. A failed upload is logged
and retried with growing waits; after the last try it is logged as lost with the command that
uploads it by hand, and training goes on.
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

from accelerate import Accelerator
from huggingface_hub import HfApi

from colorizer.evaluate import Report
from colorizer.io.files import atomic_folder
from colorizer.models.generator import Generator
from colorizer.models.hub import export
from train import checkpoints
from train.config import TrainConfig, to_dict
from train.data import StreamState
from train.model_card import SAMPLES_FILE, held_out_results, model_card
from train.phases import Phase
from train.trainer import Trainer, data_totals

log = logging.getLogger(__name__)


def generator_shape(generator: Generator) -> dict[str, object]:
    """What a checkpoint records of the generator, so a resume cannot continue another one: the built
    model's config (with --init_generator it is the starting weights', not the recipe's generator section)."""
    return to_dict(generator.config)


class Publisher:
    """Checkpoints, exports with model cards, and Hub uploads of one run."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator, trainer: Trainer, phases: list[Phase],
                 encoder_source: str):
        self.config, self.acc, self.trainer, self.phases = config, accelerator, trainer, phases
        self.output = Path(config.output_dir)
        self.encoder_source = encoder_source
        self.shape = generator_shape(accelerator.unwrap_model(trainer.generator))  # fixed for the run
        self.uploader = None
        if config.push_to_hub and accelerator.is_main_process:
            self.uploader = HubUploader(config.push_to_hub, self.output / ".hub-staging", private=config.hub_private)

    def checkpoint(self, index: int, done: int, data_state: StreamState, metrics: dict[str, float]) -> None:
        """Checkpoint phase `index` after `done` steps; every push_every'th one's generator is uploaded."""
        phase = self.phases[index]
        global_step = phase.start + done
        generator = self.acc.unwrap_model(self.trainer.generator)
        train_state = {"phase_index": index, "phase": phase.label, "step": done, "global_step": global_step,
                       "world_size": self.acc.num_processes, "plan": [p.label for p in self.phases],
                       "metrics": metrics, "generator": self.shape}
        card = self._card("generator", phase, global_step, data_totals(self.acc, data_state), metrics)
        folder = checkpoints.save(self.acc, self.config.output_dir, global_step, train_state, data_state, generator,
                                  card, keep=self.config.checkpoints_total_limit)
        log.info("saved %s", folder)
        push = (done // phase.checkpoint_every) % self.config.push_every == 0
        if push and self.uploader is not None and phase.trains_generator:
            self.uploader.submit(folder / "generator", f"{phase.label}: generator at step {global_step}")

    def export(self, phase: Phase, data_state: StreamState, metrics: dict[str, float]) -> None:
        """Export the phase's models (with model cards) and queue their upload."""
        totals = data_totals(self.acc, data_state)
        if self.acc.is_main_process:
            models = {"generator": self.trainer.generator, "critic": self.trainer.critic}
            for kind in phase.exports:
                model = self.acc.unwrap_model(models[kind])
                held_out, images = None, {}
                if kind == "generator" and self.config.card_photos:
                    # the slowest part of a short run: say so, rather than wait in silence
                    log.info("model card: colorizing the held-out photos in %s (--card_photos \"\" skips this)",
                             self.config.card_photos)
                    if results := held_out_results(model, self.config.card_photos):
                        held_out, images[SAMPLES_FILE] = results
                card = self._card(kind, phase, phase.start + phase.steps, totals, metrics, held_out)
                folder = self.output / phase.label / kind
                with atomic_folder(folder) as tmp:
                    export(model, tmp, card, images=images)
                    checkpoints.kill_point("export")
                log.info("exported %s", folder)
                if self.uploader is not None and (kind == "generator" or self.config.push_critic):
                    self.uploader.submit(folder, f"{phase.label}: {kind}", "" if kind == "generator" else "critic")
        self.acc.wait_for_everyone()

    def close(self) -> None:
        """Wait for queued uploads."""
        if self.uploader is not None:
            self.uploader.close()

    def _card(self, kind: str, phase: Phase, global_step: int, totals: StreamState, metrics: dict[str, float],
              held_out: Report | None = None) -> str:
        return model_card(kind=kind, phase=phase.label, global_step=global_step, config=to_dict(self.config),
                          shape=self.shape, data=totals,
                          world_size=self.acc.num_processes, metrics=metrics,
                          loss_source=self.trainer.loss.source, encoder_source=self.encoder_source,
                          held_out=held_out)


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

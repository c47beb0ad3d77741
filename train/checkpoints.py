"""Checkpoints that a kill can never leave half-written.

    <output_dir>/checkpoints/checkpoint-<global step>/
        model.safetensors, model_1.safetensors, optimizer*.bin, random_states_<rank>.pkl  (accelerate)
        train_state.json        phase, step, plan: where to continue
        data_state_<rank>.json  each process's position in its data shard
        generator/              the generator export with its model card (pick GAN checkpoints by eye)

Every rank writes into the temporary sibling that `atomic_folder` gives the main process; after a
barrier it becomes `checkpoint-<step>` by renames only: a folder of the same name (the same step
saved by an earlier run) is renamed aside first and deleted after, so there is never a moment when
a half-deleted folder passes for a checkpoint. "latest" only ever considers complete folders, and a
kill mid-write leaves the previous checkpoint as the latest one. The run's exports go through the
same `atomic_folder`. The run folder must be on a file system every process sees (as it is for one
machine, or a shared disk across nodes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
from collections import Counter
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from accelerate.utils.constants import RNG_STATE_NAME
from huggingface_hub import PyTorchModelHubMixin
from safetensors import SafetensorError

from colorizer.errors import first_line
from colorizer.io.files import atomic_folder
from colorizer.models.hub import export
from train.data import StreamState

log = logging.getLogger(__name__)

TRAIN_STATE = "train_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")
# "<point>:<n>": each process kills itself (SIGKILL, as `kill -9` would) the n-th time it reaches
# kill_point(<point>). The resume tests use it to interrupt a real run at exact moments.
KILL_AT = "NOGAN_KILL_AT"
_passed: Counter[str] = Counter()


def kill_point(point: str) -> None:
    """A moment a crash could hit (mid-save, mid-export, between phases): where the tests kill a run."""
    wanted = os.environ.get(KILL_AT)
    if not wanted:
        return
    _passed[point] += 1
    if wanted == f"{point}:{_passed[point]}":
        os.kill(os.getpid(), signal.SIGKILL)


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Finished checkpoints, oldest first (temporary folders of interrupted saves are ignored)."""
    root = checkpoints_dir(output_dir)
    found = [p for p in root.iterdir() if _NAME.match(p.name) and (p / TRAIN_STATE).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def after(output_dir: str | Path, global_step: int) -> list[Path]:
    """Complete checkpoints later than `global_step`, oldest first."""
    return [p for p in complete_checkpoints(output_dir) if int(_NAME.match(p.name).group(1)) > global_step]


def remove_after(output_dir: str | Path, global_step: int) -> list[Path]:
    """Delete complete checkpoints later than `global_step`; returns what was removed."""
    later = after(output_dir, global_step)
    for folder in later:
        _remove(folder)
    return later


def _remove(folder: Path) -> None:
    """Delete a checkpoint so that no kill leaves a half-deleted one that still looks complete."""
    trash = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(folder, trash)
    shutil.rmtree(trash)


def resolve(output_dir: str | Path, resume: str) -> Path:
    """'latest' or a folder -> the checkpoint folder to load; a clear error when there is none."""
    if resume == "latest":
        found = complete_checkpoints(output_dir)
        if not found:
            raise SystemExit(f"--resume latest: no complete checkpoint in {checkpoints_dir(output_dir)}")
        return found[-1]
    folder = Path(resume)
    if not (folder / TRAIN_STATE).is_file():
        raise SystemExit(f"--resume {resume}: not a complete checkpoint folder (no {TRAIN_STATE})")
    return folder


def save(accelerator: Accelerator, output_dir: str | Path, global_step: int, train_state: dict,
         data_state: StreamState, generator: PyTorchModelHubMixin, model_card: str, keep: int) -> Path:
    """Write checkpoint-<global_step> atomically on all ranks, then keep only the last `keep`."""
    final = checkpoints_dir(output_dir) / f"checkpoint-{global_step}"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_folder(final)) if accelerator.is_main_process else None
        tmp = Path(broadcast_object_list([tmp])[0])  # the main process's folder, for every rank
        accelerator.save_state(str(tmp))  # every rank: models and optimizers from main, RNG state from each
        _write_json(tmp / f"data_state_{accelerator.process_index}.json", data_state.to_dict())
        kill_point("checkpoint-files")
        if accelerator.is_main_process:
            export(generator, tmp / "generator", model_card)
            _write_json(tmp / TRAIN_STATE, train_state)
        accelerator.wait_for_everyone()  # every rank's files are in before the folder is renamed into place
    if accelerator.is_main_process:
        for old in complete_checkpoints(output_dir)[:-keep]:
            _remove(old)
    accelerator.wait_for_everyone()
    return final


def read_state(folder: Path) -> dict:
    """A checkpoint's train state (phase, step, plan, generator shape), read before anything is restored."""
    try:
        return json.loads((folder / TRAIN_STATE).read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(_damaged(folder, err)) from None


def _damaged(folder: Path, err: Exception) -> str:
    older = [p for p in complete_checkpoints(folder.parent.parent) if p.name != folder.name]
    hint = f"; resume from an earlier one with --resume {older[-1]}" if older else ""
    return f"{folder}: damaged checkpoint ({first_line(err)}){hint}"


def load(accelerator: Accelerator, folder: Path, train_state: dict | None = None) -> tuple[dict, StreamState]:
    """Restore models, optimizers and RNG states; return the train state (`read_state`'s, unless the
    caller has read it already) and this rank's data state."""
    train_state = read_state(folder) if train_state is None else train_state
    if train_state["world_size"] != accelerator.num_processes:
        raise SystemExit(f"{folder} was written by {train_state['world_size']} processes; resume it with as many "
                         f"(this run has {accelerator.num_processes}), or the data shards would not line up")
    # accelerate restores no RNG, without an error, where this rank's file is missing: a resume that
    # would quietly draw other dropout masks than the run it continues. Refuse such a folder instead.
    random_states = folder / f"{RNG_STATE_NAME}_{accelerator.process_index}.pkl"
    if not random_states.is_file():
        raise SystemExit(_damaged(folder, FileNotFoundError(f"no {random_states.name}")))
    try:
        accelerator.load_state(str(folder))
        data_state = json.loads((folder / f"data_state_{accelerator.process_index}.json").read_text())
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:  # truncated or edited files
        raise SystemExit(_damaged(folder, err)) from None
    return train_state, StreamState(**data_state)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))

"""Archives across processes: the inputs of one run split between the processes a launcher started.

    torchrun --nproc_per_node 2 -m colorizer archive/ -o out/      # CPU: one process per core pair
    accelerate launch -m colorizer archive/ -o out/                # one process per GPU (accelerate config)

Accelerate's process state does the splitting (`split_between_processes`: contiguous shares of one
list that every process computes alike) and the gathering of the per-process counts; nothing here
schedules. A plain `python -m colorizer` is one process and never imports Accelerate, so `--help` and
small runs stay as quick as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def launched() -> bool:
    """Whether a launcher (torchrun, accelerate launch) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass
class Processes:
    """This process's place among the run's processes; the single-process defaults mean a plain run."""

    rank: int = 0
    count: int = 1
    device: str | None = None  # this process's own device (cuda:LOCAL_RANK); None: the usual choice
    state: Any = None  # accelerate.PartialState when launched

    @classmethod
    def start(cls, device: str | None = None) -> "Processes":
        """Join the launcher's process group, or stand alone when there is none.

        Without a GPU (or with --device cpu) the group runs on gloo: `PartialState()` alone would see
        torchrun's processes as unconnected single ones, and `PartialState(cpu=True)` connects them
        (DistributedType.MULTI_CPU)."""
        if not launched():
            return cls()
        import torch
        from accelerate import PartialState

        cpu = (device or "").startswith("cpu") or not torch.cuda.is_available()
        state = PartialState(cpu=cpu)
        return cls(state.process_index, state.num_processes, device or str(state.device), state)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, items: list[T]) -> list[T]:
        """This process's contiguous share of `items` (all of them when alone); every process must pass
        the same list, so that each item goes to exactly one."""
        if self.state is None:
            return items
        with self.state.split_between_processes(items) as mine:
            return list(mine)

    def gather(self, value: T) -> list[T]:
        """`value` from every process, by rank (on every process)."""
        if self.state is None:
            return [value]
        from accelerate.utils import gather_object

        return gather_object([value])

    def close(self) -> None:
        """Leave the process group (torch warns at exit about one left open), all together: a process that
        tears its connections down while another is still in a collective can abort that one."""
        if self.state is not None:
            self.state.wait_for_everyone()
            self.state.destroy_process_group()

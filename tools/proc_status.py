"""Resident memory of a process, as Linux reports it: what the memory tests and benchmarks measure."""

from __future__ import annotations

from pathlib import Path


def vm_kib(field: str, pid: int | str = "self") -> int:
    """A field of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: peak resident).

    Raises LookupError for a process that has exited: a zombie lacks the field, a reaped one its file."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        raise LookupError(f"no process {pid}") from None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"no {field} in /proc/{pid}/status")

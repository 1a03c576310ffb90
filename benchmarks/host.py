"""The machine a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any


def host_facts() -> dict[str, Any]:
    """Date, cores, memory, CPU model, Python version and the process's nice value."""
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "date": dt.date.today().isoformat(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024**2, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "nice": os.nice(0),
    }

"""Every dataset the platform takes in: one module each with its CONTRACT and a `clean` function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from jobs.contracts import Contract
from jobs.datasets import dossiers, enterprises


@dataclass(frozen=True)
class Dataset:
    contract: Contract
    clean: Callable[[DataFrame], DataFrame]

    @property
    def name(self) -> str:
        return self.contract.dataset


DATASETS: dict[str, Dataset] = {
    module.CONTRACT.dataset: Dataset(module.CONTRACT, module.clean) for module in (dossiers, enterprises)
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None

"""Every dataset the platform takes in: one module each with its CONTRACT and a `clean` function.

Adding a dataset is one contract module here, registered in `DATASET_MODULES`, and one expectation suite
`expectations/<dataset>.json` (README: "Adding a dataset").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from jobs.contracts import Contract
from jobs.datasets import (
    air_quality,
    dossiers,
    enterprises,
    feedback,
    health_visits,
    payments,
    traffic_incidents,
)


@dataclass(frozen=True)
class Dataset:
    contract: Contract
    clean: Callable[[DataFrame], DataFrame]

    @property
    def name(self) -> str:
        return self.contract.dataset


DATASET_MODULES = (dossiers, enterprises, payments, feedback, air_quality, health_visits, traffic_incidents)

DATASETS: dict[str, Dataset] = {
    module.CONTRACT.dataset: Dataset(module.CONTRACT, module.clean) for module in DATASET_MODULES
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None

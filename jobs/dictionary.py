"""The data dictionary: gold marts from their `MartSpec` (description, key columns, measure definitions) and
silver tables from their dataset contracts. `govlake tables --describe` prints it and
`docs/data_dictionary.md` is generated from it (`python -m jobs.dictionary`), so the two never disagree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

DICTIONARY_PATH = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"


@dataclass(frozen=True)
class TableEntry:
    name: str  # qualified, e.g. gold.commune_month
    description: str
    columns: tuple[tuple[str, str], ...]  # (column, definition), in table order where known


def gold_entries() -> list[TableEntry]:
    from jobs.mart_registry import MARTS

    return [
        TableEntry(
            f"gold.{spec.name}",
            spec.description,
            (*spec.columns.items(), *((m, d) for m, d in spec.measures.items() if m not in spec.columns)),
        )
        for spec in MARTS
    ]


def silver_entries() -> list[TableEntry]:
    """Each dataset's silver table: its contract's title and description, and the fields it keeps."""
    from jobs.datasets import DATASETS

    entries = []
    for dataset in DATASETS.values():
        contract = dataset.contract
        columns = tuple(
            (f.silver_name, _field_definition(f.description, f.pii, f.type))
            for f in contract.fields
            if f.keep_in_silver
        )
        described = " ".join(part for part in (contract.title + ".", contract.description) if part)
        key = ", ".join(contract.business_key)
        entries.append(TableEntry(f"silver.{contract.dataset}", f"{described} Key: {key}.", columns))
    return entries


def _field_definition(description: str, pii: str | None, type_: str) -> str:
    parts = [description] if description else []
    if pii:
        parts.append(f"pseudonym of the {pii} (keyed hash; raw value only in bronze)")
    return f"{type_}" + (f": {'; '.join(parts)}" if parts else "")


def render_markdown() -> str:
    lines = [
        "# Data dictionary",
        "",
        "Generated from the code by `python -m jobs.dictionary` (gold: each mart's `MartSpec` in `jobs/`;",
        "silver: the dataset contracts in `jobs/datasets/`). Do not edit by hand: a test checks this file",
        "matches the code. `govlake tables --describe` prints the same.",
        "",
        "## Gold",
        "",
    ]
    for entry in gold_entries():
        lines += _entry_markdown(entry, "column", "definition")
    lines += [
        "## Silver",
        "",
        "Every silver table also has the provenance columns `_source_file`, `_source_row`, `_dq_warnings`",
        "and `_merged_at`; places are resolved to `commune_code`, `commune_code_2025` and `commune_match`.",
        "Columns derived by each dataset's `clean` (flags such as `is_finished`) are described there.",
        "",
    ]
    for entry in silver_entries():
        lines += _entry_markdown(entry, "column", "type and meaning")
    return "\n".join(lines).rstrip() + "\n"


def _entry_markdown(entry: TableEntry, column_header: str, definition_header: str) -> list[str]:
    header = f"| {column_header} | {definition_header} |"
    lines = [f"### `{entry.name}`", "", entry.description, "", header, "|---|---|"]
    lines += [f"| `{column}` | {_cell(definition)} |" for column, definition in entry.columns]
    return [*lines, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_dictionary(path: Path = DICTIONARY_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_dictionary()}\n")

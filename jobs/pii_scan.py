"""Leak scanner: finds raw citizen IDs, mobile numbers and e-mail addresses in files the platform wrote.

Silver, gold, quarantine payloads, quality results, reports, run ledgers and logs must never hold a raw
identifier (DESIGN.md §7). This module checks that on the files themselves, independently of the code that was
supposed to pseudonymise or mask them, so it also catches leaks through paths nobody thought of (Delta
statistics, free-text columns, log lines, HTML reports).

What is scanned, file by file under the given roots:
- Parquet (Delta data files, change-data files, checkpoints): text columns only, one column at a time in
  batches of rows, never a whole file in memory. Nested structs, lists and maps are walked field by field.
- JSON documents and JSON lines, including Delta commit files and version checksums (`_delta_log/*.json`,
  `_delta_log/*.crc`): their `stats` hold min/max values of data columns, so they can leak. JSON held in a
  string (a quarantine payload in a Parquet column, Delta `stats`) is parsed and walked as well.
- HTML (entities decoded), `.log`, `.txt`, `.md` line by line; `.csv` cell by cell with the header naming
  the column.
Skipped: Hadoop checksum side files (`.<name>.crc`, binary), `_delta_log/_last_checkpoint` (only a version
number, sizes and a schema), and every other extension (deletion vectors, keys, images).

Only text values are checked: numbers in JSON and numeric Parquet columns are counts, sizes, amounts and
epoch times, which would flood the 9-digit CMND pattern, while identifiers travel as text everywhere in the
pipeline (bronze keeps every source column as a string).

Patterns (ASCII letters and digits on either side end a candidate, so digits inside longer digit runs, hex
strings such as 64-hex pseudonyms and sha256 hashes, or base64 do not match; `1.234567890` style decimals
do not match either; UUIDs are blanked before matching):
- CCCD: 12 digits = a birth-registration province code 001-096, a century/gender digit 0-3 (births in
  1900-2099), 8 more digits. 14-digit timestamps (20250629083000) and 5-digit commune codes never match.
- CMND: exactly 9 digits (the noisiest pattern: any 9-digit reference number written as text matches).
- Mobile: `(?:\\+84|84|0)(3[2-9]|5[25689]|7[06-9]|8[1-9]|9\\d)\\d{7}` with optional single space, dot, dash
  or no-break space separators between digits (`0912 345 678`, `+84 912.345.678`); none right after a
  leading 0, so `0.912345678` is a decimal, not a phone.
- E-mail: `local@domain.tld`.

Tax-code rule: a 10-digit enterprise tax code (MST) can look exactly like a mobile number (0323456789), so in
a Parquet column, JSON field or CSV column whose name says it holds a tax code (`tax_code`, `MST`,
`MaSoThue`, `ma_so_doanh_nghiep`, `tax_id`, in any case or separator style, also as part of a longer name
like `mst_chi_nhanh`) the mobile pattern is not applied. The other patterns still are: since 1 July 2025 the
12-digit personal ID replaces an individual's tax code, so a CCCD in a tax-code column is still a leak.
Tax codes in free text (HTML, log lines) have no field name and may be reported as mobile numbers.

Every finding carries a masked excerpt only; the raw value is never stored in a `Finding`.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Zones written by the platform after pseudonymisation (never landing, bronze or _private, which hold raw data
# or the key by design).
SCANNED_ZONES = ("silver", "gold", "quarantine", "_quality", "_reports", "_ops")
LOG_FOLDER = "logs"

# Rows per Arrow batch when reading one Parquet column: bounded memory whatever the file size.
PARQUET_BATCH_ROWS = 8192

# A letter or digit next to a candidate means it is part of a longer token (hex, base64, a longer number).
_LEFT = r"(?<![0-9A-Za-z])(?<![0-9][.,])"
_RIGHT = r"(?![0-9A-Za-z])(?![.,][0-9])"
_PROVINCE_001_096 = r"0(?:0[1-9]|[1-8][0-9]|9[0-6])"
_MOBILE_NETWORK = r"(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-9])"
_SEPARATOR = r"[ .\-\u00a0]"  # NBSP: what HTML reports put between digit groups

CCCD_PATTERN = re.compile(_LEFT + _PROVINCE_001_096 + r"[0-3][0-9]{8}" + _RIGHT)
CMND_PATTERN = re.compile(_LEFT + r"[0-9]{9}" + _RIGHT)
MOBILE_PATTERN = re.compile(
    _LEFT
    + rf"(?:\(?\+84\)?{_SEPARATOR}?|84{_SEPARATOR}?|0)"
    + _MOBILE_NETWORK
    + rf"(?:{_SEPARATOR}?[0-9]){{7}}"
    + _RIGHT
)
EMAIL_PATTERN = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?![A-Za-z0-9\-])"
)
UUID_PATTERN = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")

# Checked in this order; a later pattern never reports a span an earlier one already took (the digits of
# 0912345678@mail.vn are reported once, as an e-mail).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", EMAIL_PATTERN),
    ("cccd", CCCD_PATTERN),
    ("mobile", MOBILE_PATTERN),
    ("cmnd", CMND_PATTERN),
)
# A superset of every pattern above: Arrow (RE2 syntax) uses it to skip rows that cannot match without
# leaving C++, Python to skip text quickly.
_ARROW_CANDIDATE_REGEX = r"[0-9][0-9 .()+\-\x{00A0}]{7,}[0-9]|@"
_QUICK_CANDIDATE = re.compile(r"[0-9][0-9 .()+\-\u00a0]{7,}[0-9]|@")

_TAX_CODE_WORDS = ("taxcode", "taxid", "masothue", "masodoanhnghiep")
_NAME_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NOT_IN_TAX_CODE_FIELDS = frozenset({"mobile"})


@dataclass(frozen=True, repr=False)
class Finding:
    """One identifier found in one place. `excerpt` is masked; the raw value is never kept.

    `file` is the real path (to act on); printing a finding masks identifiers in the path too, since a
    partition directory such as phone=0912345678 is itself a leak.
    """

    file: Path
    location: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{redact(str(self.file))}: {self.location}: {self.kind} {self.excerpt}"

    def __repr__(self) -> str:
        return (
            f"Finding(file={redact(str(self.file))!r}, location={self.location!r}, kind={self.kind!r}, "
            f"excerpt={self.excerpt!r})"
        )


def mask_match(kind: str, raw: str) -> str:
    """The masked form shown in findings: the same shape quarantine payloads use."""
    if kind == "email":
        local, _, domain = raw.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = re.sub(r"[^0-9]", "", raw)
    if kind == "mobile":
        return "*******" + digits[-3:]
    return "*" * (len(digits) - 3) + digits[-3:]


def _identifier_spans(text: str, skip_kinds: frozenset[str]) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, masked value) of every identifier in `text`, left to right."""
    if not _QUICK_CANDIDATE.search(text):
        return []
    # Same length keeps positions; UUID groups can be all digits (…-074123456789) and must not match.
    text = UUID_PATTERN.sub(lambda match: "x" * len(match.group()), text)
    taken: list[tuple[int, int, str, str]] = []
    for kind, pattern in _PATTERNS:
        if kind in skip_kinds:
            continue
        for match in pattern.finditer(text):
            start, end = match.span()
            if not any(start < other_end and other_start < end for other_start, other_end, _, _ in taken):
                taken.append((start, end, kind, mask_match(kind, match.group())))
    return sorted(taken)


def find_identifiers(text: str, skip_kinds: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(kind, masked value) for every identifier in `text`, left to right."""
    return [(kind, masked) for _, _, kind, masked in _identifier_spans(text, skip_kinds)]


def redact(text: str) -> str:
    """`text` with every identifier replaced by its mask (for paths, keys and column names in locations)."""
    pieces: list[str] = []
    position = 0
    for start, end, _, masked in _identifier_spans(text, frozenset()):
        pieces += [text[position:start], masked]
        position = end
    return "".join(pieces) + text[position:]


def is_tax_code_field(name: str) -> bool:
    """True for field names that say they hold an enterprise tax code (MST), in any naming style."""
    tokens = [token.lower() for token in _NAME_TOKEN.findall(name)]
    joined = "".join(tokens)
    return "mst" in tokens or any(word in joined for word in _TAX_CODE_WORDS)


def default_scan_roots(lake_root: Path) -> list[Path]:
    """The zones that must hold no raw identifier, plus a `logs` folder when the lake has one."""
    roots = [lake_root / zone for zone in SCANNED_ZONES]
    if (lake_root / LOG_FOLDER).is_dir():
        roots.append(lake_root / LOG_FOLDER)
    return roots


def scan_for_pii(paths: Sequence[Path]) -> list[Finding]:
    """Every identifier found in the files under `paths` (files or folders; missing paths are skipped).

    File and directory names are checked too (a partition folder like `phone=0912345678` is a leak). A file
    that cannot be read is reported with kind `unreadable`: it cannot be shown to be clean.
    """
    findings: list[Finding] = []
    for path, file_type in _walk_paths(paths):
        if file_type == _UNREADABLE_DIRECTORY:
            findings.append(Finding(path, "whole directory", "unreadable", "not listed"))
            continue
        name_location = "directory name" if file_type == _DIRECTORY else "file name"
        for kind, masked in find_identifiers(path.name):
            findings.append(Finding(path, name_location, kind, masked))
        if file_type == _DIRECTORY:
            continue
        try:
            for location, kind, masked in _SCANNERS[file_type](path):
                findings.append(Finding(path, location, kind, masked))
        except (OSError, ValueError, pa.ArrowException, csv.Error) as error:
            # The message may quote file content, so only the error type is kept.
            findings.append(Finding(path, "whole file", "unreadable", type(error).__name__))
    return findings


def _file_type(path: Path) -> str | None:
    name = path.name
    suffix = path.suffix.lower()
    if name.startswith(".") and suffix == ".crc":
        return None  # Hadoop checksum of a neighbouring file: binary CRCs, no values
    if name == "_last_checkpoint":
        return None  # Delta pointer to the latest checkpoint: version, sizes and schema only
    if suffix == ".parquet":
        return "parquet"
    if suffix in {".json", ".jsonl", ".ndjson"} or (suffix == ".crc" and path.parent.name == "_delta_log"):
        return "json"
    if suffix in {".html", ".htm"}:
        return "html"
    if suffix == ".csv":
        return "csv"
    if suffix in {".log", ".txt", ".md"}:
        return "text"
    return None


_DIRECTORY = "directory"
_UNREADABLE_DIRECTORY = "unreadable directory"


def _walk_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """(path, file type) of each scannable file and each directory under the roots.

    A folder that cannot be listed is reported rather than skipped; a folder that no longer exists (a
    vacuum ran meanwhile, a zone not created yet) is skipped.
    """
    unlisted: list[OSError] = []
    for root in paths:
        root = Path(root)
        if root.is_symlink() or not root.exists():
            continue
        if root.is_file():
            file_type = _file_type(root)
            if file_type:
                yield root, file_type
            continue
        # Symlinks are not followed: a link could lead out of the scanned zone (into _private, say).
        for directory, subdirectories, filenames in os.walk(root, onerror=unlisted.append):
            subdirectories.sort()
            for name in subdirectories:
                yield Path(directory) / name, _DIRECTORY
            for name in sorted(filenames):
                file = Path(directory) / name
                file_type = _file_type(file)
                if file_type and not file.is_symlink():
                    yield file, file_type
        for error in unlisted:
            if not isinstance(error, FileNotFoundError):
                yield Path(error.filename or root), _UNREADABLE_DIRECTORY
        unlisted.clear()


# Each scanner yields (location, kind, masked excerpt).
ScanResult = Iterator[tuple[str, str, str]]


def _field_label(name: str) -> str:
    safe = redact(name)
    return f".{safe}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", safe) else f"[{json.dumps(safe)}]"


def _located(place: str, path: str) -> str:
    """'line 3' for a value that is the whole line, 'line 3, $.detail.Email' for a field inside it."""
    return place if path == "$" else f"{place}, {path}"


def _walk(value: Any, path: str, in_tax_code_field: bool) -> ScanResult:
    """Walk a JSON-like value; strings holding JSON (Delta stats, payloads) are parsed and walked too."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                embedded = json.loads(stripped)
            except ValueError:
                pass
            else:
                # "$.add.stats > $.minValues.note": a JSON path inside the string at a JSON path.
                yield from _walk(embedded, "$" if path == "$" else f"{path} > $", in_tax_code_field)
                return
        skip = _NOT_IN_TAX_CODE_FIELDS if in_tax_code_field else frozenset()
        for kind, masked in find_identifiers(value, skip):
            yield path, kind, masked
    elif isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            child_path = path + _field_label(key_text)
            for kind, masked in find_identifiers(key_text):
                yield f"{child_path} (field name)", kind, masked
            yield from _walk(item, child_path, in_tax_code_field or is_tax_code_field(key_text))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", in_tax_code_field)


def _scan_json(file: Path) -> ScanResult:
    # JSON lines first (Delta commits, run ledgers): streams line by line; a pretty-printed document fails
    # on its first line and is then parsed whole.
    with file.open(encoding="utf-8", errors="replace") as handle:
        first_line = next((line for line in handle if line.strip()), "")
    try:
        json.loads(first_line)
        is_json_lines = True
    except ValueError:
        is_json_lines = False
    if not is_json_lines:
        with file.open(encoding="utf-8", errors="replace") as handle:
            try:
                document = json.load(handle)
            except ValueError:
                document = None
        if document is not None:
            yield from _walk(document, "$", False)
            return
    with file.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                record = line  # not JSON after all: still scanned as text
            for path, kind, masked in _walk(record, "$", False):
                yield _located(f"line {line_number}", path), kind, masked


def _scan_text(file: Path) -> ScanResult:
    with file.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            # Structured (JSON) log lines are walked so field names apply.
            for path, kind, masked in _walk(line, "$", False):
                yield _located(f"line {line_number}", path), kind, masked


def _scan_html(file: Path) -> ScanResult:
    with file.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            for kind, masked in find_identifiers(html.unescape(line)):
                yield f"line {line_number}", kind, masked


def _scan_csv(file: Path) -> ScanResult:
    with file.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header: list[str] = []
        for row in reader:
            if not header:
                header = row
                for cell in row:
                    for kind, masked in find_identifiers(cell):
                        yield f"line {reader.line_num} (header)", kind, masked
                continue
            for index, cell in enumerate(row):
                name = header[index] if index < len(header) else f"#{index + 1}"
                location = f"line {reader.line_num}, column {redact(name)}"
                for path, kind, masked in _walk(cell, "$", is_tax_code_field(name)):
                    yield _located(location, path), kind, masked


def _holds_text(data_type: pa.DataType) -> bool:
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return True
    if pa.types.is_string_view(data_type):
        return True
    if pa.types.is_dictionary(data_type):
        return _holds_text(data_type.value_type)
    if pa.types.is_struct(data_type):
        return any(_holds_text(data_type.field(index).type) for index in range(data_type.num_fields))
    if pa.types.is_map(data_type):
        return _holds_text(data_type.key_type) or _holds_text(data_type.item_type)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return _holds_text(data_type.value_type)
    if pa.types.is_fixed_size_list(data_type) or pa.types.is_list_view(data_type):
        return _holds_text(data_type.value_type)
    return False


def _scan_parquet(file: Path) -> ScanResult:
    parquet_file = pq.ParquetFile(file)
    try:
        for field in parquet_file.schema_arrow:
            if not _holds_text(field.type):
                continue
            label = redact(field.name)
            in_tax_code_field = is_tax_code_field(field.name)
            first_row = 0
            # One column at a time, a batch of rows at a time: memory stays bounded by the batch size.
            for batch in parquet_file.iter_batches(
                batch_size=PARQUET_BATCH_ROWS, columns=[field.name], use_threads=False
            ):
                yield from _scan_arrow_column(batch.column(0), label, first_row, in_tax_code_field)
                first_row += batch.num_rows
    finally:
        parquet_file.close()


def _scan_arrow_column(column: pa.Array, label: str, first_row: int, in_tax_code_field: bool) -> ScanResult:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Arrow picks the few rows that could match; Python only looks at those.
        candidates = pc.indices_nonzero(pc.match_substring_regex(column, _ARROW_CANDIDATE_REGEX))
        rows: Iterable[tuple[int, Any]] = ((index, column[index].as_py()) for index in candidates.to_pylist())
    else:
        values = column.to_pylist(maps_as_pydicts="lossy")
        rows = ((index, value) for index, value in enumerate(values) if value is not None)
    for index, value in rows:
        location = f"column {label}, row {first_row + index}"
        for path, kind, masked in _walk(value, "$", in_tax_code_field):
            yield _located(location, path), kind, masked


_SCANNERS = {
    "parquet": _scan_parquet,
    "json": _scan_json,
    "html": _scan_html,
    "csv": _scan_csv,
    "text": _scan_text,
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m jobs.pii_scan [PATH ...]`: print findings, exit 1 if any (default: the lake's zones)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments:
        roots = [Path(argument) for argument in arguments]
    else:
        from jobs.config import Settings

        roots = default_scan_roots(Path(Settings.from_env().lake_uri))
    findings = scan_for_pii(roots)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {', '.join(str(root) for root in roots)}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())


def files_changed_since(roots: Sequence[Path], since_epoch_s: float) -> list[Path]:
    """Files under the roots written at or after a moment: what one run added, so its scan stays small."""
    changed = []
    for root in roots:
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = (p for p in root.rglob("*") if p.is_file())
        else:
            continue
        changed += [p for p in candidates if p.stat().st_mtime >= since_epoch_s]
    return sorted(changed)

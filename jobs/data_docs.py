"""Great Expectations Data Docs built from the engine's own rule results, readable offline.

The quality engine evaluates every rule in one pass and keeps only counts per rule (`rule_result_records`).
This module turns those records into GE `ExpectationSuiteValidationResult` objects (one per dataset and
batch date), stores them in a file-backed GE context under `<lake>/_quality/gx/` and lets GE build its
Data Docs into `<lake>/_quality/data_docs/`. Nothing rescans the data, and a result carries counts only
(element_count, unexpected_count, unexpected_percent): no value, no value list, no row index.

GE's page templates load bootstrap, jquery, vega, font-awesome and more from CDNs, and its logo from an S3
bucket. A data center's network may have no Internet access and pages must not call out, so the exact
npm packages those URLs name are fetched once (`make datadocs-assets`), the files the pages need are
copied into `<site>/static/vendor/`, and every such URL in the generated HTML and CSS is rewritten to a
relative local path. A URL this module does not know (a newer GE template) fails the build, by name.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import re
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

# Before GE is imported: a government network sends no usage statistics anywhere.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

import great_expectations as gx  # noqa: E402
from great_expectations.core.expectation_validation_result import (  # noqa: E402
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.resource_identifiers import (  # noqa: E402
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation import ColumnMapExpectation  # noqa: E402
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402

from jobs import invariants, reference_data  # noqa: E402
from jobs.datasets import get_dataset  # noqa: E402
from jobs.quality import Rule, load_suite, parseable_rule  # noqa: E402
from jobs.runs import VIETNAM  # noqa: E402

SITE_DIRECTORY = "data_docs"
SITE_NAME = "govlake"
VENDOR_DIRECTORY = "static/vendor"
ASSETS_ENV = "GOVLAKE_DATADOCS_ASSETS"
ASSETS_MAKE_TARGET = "make datadocs-assets"
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[1] / ".cache" / "datadocs-assets"

# GE names severities differently: a `fail` rule stops the batch, a `quarantine` rule moves rows aside.
GE_SEVERITY = {
    "fail": FailureSeverity.CRITICAL,
    "quarantine": FailureSeverity.WARNING,
    "warn": FailureSeverity.INFO,
}

# The column the reader fills for a record it could not parse: "parseable" means it stays null.
CORRUPT_RECORD_COLUMN = "_corrupt_record"


class DataDocsError(RuntimeError):
    """Data Docs cannot be built; the message says what to do."""


# ---------------------------------------------------------------------------------------------------------
# The suites' own expectation types, known to GE for rendering
# ---------------------------------------------------------------------------------------------------------


class _EngineEvaluatedColumnExpectation(ColumnMapExpectation):
    """An expectation type GE has no implementation of: govlake evaluates it (the one pass, with
    `jobs.identifiers` or `jobs.quality`'s date bounds, or the post-merge `jobs.invariants`), and GE only
    needs to know the type to render its results. This base is abstract (no metric), so GE does not register
    it."""


class ExpectColumnValuesToBeValidVnCitizenId(_EngineEvaluatedColumnExpectation):
    """A CCCD (12 digits) or CMND (9 digits) with a plausible province, century and birth year."""

    map_metric: ClassVar[str] = "column_values.valid_vn_citizen_id"


class ExpectColumnValuesToBeValidVnTaxCode(_EngineEvaluatedColumnExpectation):
    """A Vietnamese tax code (MST): 10 digits with the check digit, optionally '-' and a 3-digit branch."""

    map_metric: ClassVar[str] = "column_values.valid_vn_tax_code"


class ExpectColumnValuesToBeValidVnMobile(_EngineEvaluatedColumnExpectation):
    """A Vietnamese mobile number in any usual spelling (0xx…, +84…, 84…)."""

    map_metric: ClassVar[str] = "column_values.valid_vn_mobile"


class ExpectColumnValuesToBePlausibleDates(_EngineEvaluatedColumnExpectation):
    """A date or time not before `min_value` and at most `max_days_after_delivery` days after the batch's
    delivery date (never the clock: a batch validated again gets the same verdicts)."""

    map_metric: ClassVar[str] = "column_values.plausible_date"
    min_value: str
    max_days_after_delivery: int


class ExpectSilverKeysToHoldInvariant(_EngineEvaluatedColumnExpectation):
    """A post-merge invariant of a silver table (`jobs.invariants`), judged per business key."""

    map_metric: ClassVar[str] = "column_values.silver_invariant_holds"
    invariant: str


SILVER_INVARIANT_TYPE = "expect_silver_keys_to_hold_invariant"


# ---------------------------------------------------------------------------------------------------------
# Rule results → GE validation results
# ---------------------------------------------------------------------------------------------------------


def _description(rule: Rule) -> str:
    """What the page shows for the expectation: rule id, severity and both messages (no `$`: GE templates)."""
    text = f"{rule.rule_id} [{rule.severity}]: {rule.message_en}"
    if rule.message_vi:
        text += f" / {rule.message_vi}"
    return text.replace("$", "")


def _expectation_configuration(rule: Rule) -> ExpectationConfiguration:
    kind, kwargs = rule.expectation_type, dict(rule.kwargs)
    if kind == "record_is_parseable":
        kind, kwargs = "expect_column_values_to_be_null", {"column": CORRUPT_RECORD_COLUMN}
    reference = rule.meta.get("value_set_reference")
    if reference:
        kwargs["value_set"] = reference_data.value_set(reference)
    meta = {
        "rule_id": rule.rule_id,
        "severity": rule.severity,
        "message_vi": rule.message_vi,
        "message_en": rule.message_en,
    }
    return ExpectationConfiguration(
        type=kind,
        kwargs=kwargs,
        meta=meta,
        description=_description(rule),
        severity=GE_SEVERITY[rule.severity],
    )


def _count_result(record: Mapping[str, Any], rule: Rule, batch_rows: int) -> dict[str, Any]:
    """Counts only: never `unexpected_list`, `partial_unexpected_list` or index lists."""
    evaluated, failed = int(record["evaluated"]), int(record["failed"])
    if not rule.is_row_level:
        return {"observed_value": batch_rows, "element_count": evaluated, "unexpected_count": failed}
    percent = 0.0 if evaluated == 0 else 100.0 * failed / evaluated
    return {
        "element_count": evaluated,
        "unexpected_count": failed,
        "unexpected_percent": percent,
        "unexpected_percent_total": percent,
        "unexpected_percent_nonmissing": percent,
    }


def _succeeded(record: Mapping[str, Any], rule: Rule) -> bool:
    failed, evaluated = int(record["failed"]), int(record["evaluated"])
    if failed == 0:
        return True
    mostly = rule.kwargs.get("mostly")
    return mostly is not None and evaluated > 0 and (evaluated - failed) / evaluated >= float(mostly)


def _rules_by_id(dataset: str, suites_dir: Path | None) -> dict[str, Rule]:
    suite = load_suite(dataset) if suites_dir is None else load_suite(dataset, suites_dir)
    return {rule.rule_id: rule for rule in (parseable_rule(dataset), *suite.rules)}


def _invariant_rule(dataset: str, rule_id: str) -> Rule | None:
    """A post-merge silver invariant (`silver.<dataset>.<name>`) as a rule: one verdict per business key."""
    invariant = invariants.describe(rule_id)
    if invariant is None:
        return None
    return Rule(
        rule_id=rule_id,
        dataset=dataset,
        expectation_type=SILVER_INVARIANT_TYPE,
        kwargs={"column": ", ".join(get_dataset(dataset).contract.business_key), "invariant": invariant.name},
        severity=invariants.SEVERITY,
        message_vi=invariant.message_vi,
        message_en=invariant.message_en,
    )


def run_identifier(run_id: str) -> RunIdentifier:
    """GE's run identity: the govlake run id as name, its start (encoded in the id) as time."""
    match = re.match(r"^(\d{8}T\d{6})", run_id)
    if match:
        started = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=VIETNAM)
    else:
        started = dt.datetime.now(VIETNAM)
    return RunIdentifier(run_name=run_id, run_time=started.astimezone(dt.UTC))


def validation_results(
    dataset: str,
    run_id: str,
    records: Sequence[Mapping[str, Any]],
    suites_dir: Path | None = None,
) -> dict[str, ExpectationSuiteValidationResult]:
    """One GE suite validation result per batch date of the records (as `rule_result_records` gives them)."""
    suite_rules = _rules_by_id(dataset, suites_dir)
    rules = dict(suite_rules)
    for rule_id in {str(r["rule_id"]) for r in records} - set(suite_rules):
        invariant = _invariant_rule(dataset, rule_id)
        if invariant is None:
            raise DataDocsError(
                f"{dataset}: rule results name {rule_id}, which is neither in its expectation suite "
                "nor a silver invariant"
            )
        rules[rule_id] = invariant
    by_batch: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_batch[str(record["batch_date"])].append(record)
    run = run_identifier(run_id)
    results = {}
    for batch_date, batch_records in sorted(by_batch.items()):
        # Rows of the batch: what the row rules evaluated (invariants count keys, not rows).
        batch_rows = max(
            (
                int(r["evaluated"])
                for r in batch_records
                if str(r["rule_id"]) in suite_rules and suite_rules[str(r["rule_id"])].is_row_level
            ),
            default=0,
        )
        expectation_results = [
            ExpectationValidationResult(
                success=_succeeded(record, rules[str(record["rule_id"])]),
                expectation_config=_expectation_configuration(rules[str(record["rule_id"])]),
                result=_count_result(record, rules[str(record["rule_id"])], batch_rows),
            )
            for record in batch_records
        ]
        succeeded = sum(bool(r.success) for r in expectation_results)
        total = len(expectation_results)
        results[batch_date] = ExpectationSuiteValidationResult(
            success=succeeded == total,
            results=expectation_results,
            suite_name=dataset,
            statistics={
                "evaluated_expectations": total,
                "successful_expectations": succeeded,
                "unsuccessful_expectations": total - succeeded,
                "success_percent": 100.0 * succeeded / total if total else None,
            },
            meta={
                "run_id": run,
                "expectation_suite_name": dataset,
                "great_expectations_version": gx.__version__,
                "validation_time": run.run_time.strftime("%Y%m%dT%H%M%S.%fZ"),
                "active_batch_definition": {
                    "datasource_name": "govlake",
                    "data_connector_name": "one-pass-engine",
                    "data_asset_name": dataset,
                    "batch_identifiers": {"batch_date": batch_date},
                },
                "batch_spec": {"data_asset_name": dataset, "table": f"bronze.{dataset}"},
                "batch_markers": {"batch_date": batch_date, "rows": batch_rows},
            },
        )
    return results


# ---------------------------------------------------------------------------------------------------------
# Vendored front-end assets
# ---------------------------------------------------------------------------------------------------------


# Every URL GE 1.24.1's templates load → (npm package@exact version, file inside the package). The
# floating ones (vega@5, vega-lite@5, vega-embed@6) are pinned to what they resolved to for GE 1.24.1.
CDN_FILES: dict[str, tuple[str, str]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap@4.3.1",
        "dist/css/bootstrap.min.css",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap@4.3.1",
        "dist/js/bootstrap.min.js",
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js@1.12.9",
        "dist/umd/popper.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "bootstrap-table@1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "bootstrap-table@1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker@1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker@1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark@1.1.0",
        "dist/css/bootstrap-prefers-dark.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free@6.6.0",
        "css/all.min.css",
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.29.0", "build/vega-embed.min.js"),
}
# What a vendored file loads by a relative path: font-awesome's stylesheet loads ../webfonts/*.
COMPANION_FILES: dict[str, tuple[str, ...]] = {"@fortawesome/fontawesome-free@6.6.0": ("webfonts",)}


def vendor_files() -> dict[str, tuple[str, ...]]:
    """npm package@version → the files (or directories) of it the pages need."""
    files: dict[str, list[str]] = defaultdict(list)
    for spec, file in CDN_FILES.values():
        files[spec].append(file)
    for spec, companions in COMPANION_FILES.items():
        files[spec] += companions
    return {spec: tuple(dict.fromkeys(names)) for spec, names in files.items()}


GE_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GE_IMAGE_SUBSTITUTES = {"full_logo_dark.png": "logo-long.png"}

# Attributes and CSS that make a browser fetch something (navigation links `<a href>` do not).
_LOADING_TAG = re.compile(r"<(?:script|link|img|source|iframe|embed)\b[^>]*>", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(["'])(https?://[^"']*)\2""", re.IGNORECASE)
_STATIC_ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(["'])((?:\.\./)*static/[^"']*)\2""", re.IGNORECASE)
_INTEGRITY_ATTRIBUTES = re.compile(r"""\s+(?:integrity|crossorigin)\s*=\s*(["'])[^"']*\1""", re.IGNORECASE)
_INTEGRITY_VALUE = re.compile(r"""\bintegrity\s*=\s*(["'])([^"']*)\1""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(https?://[^"')]*)\1\s*\)""", re.IGNORECASE)


def assets_dir() -> Path:
    """Where `make datadocs-assets` unpacks the npm packages (`$GOVLAKE_DATADOCS_ASSETS` to move it)."""
    configured = os.environ.get(ASSETS_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_ASSETS_DIR


def missing_assets(source: Path) -> list[str]:
    """Files the pages need that are not unpacked under `source` (`<source>/<name>@<version>/<file>`)."""
    return [
        f"{spec}/{file}"
        for spec, files in vendor_files().items()
        for file in files
        if not (source / spec / file).exists()
    ]


def _require_assets(source: Path) -> None:
    missing = missing_assets(source)
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise DataDocsError(
            f"the Data Docs front-end assets are missing from {source} ({shown}); run `{ASSETS_MAKE_TARGET}` "
            f"once on a machine with npm and registry access (or set {ASSETS_ENV} to where they are)"
        )


def _copy_vendor_files(source: Path, site: Path) -> None:
    for spec, files in vendor_files().items():
        for file in files:
            origin, target = source / spec / file, site / VENDOR_DIRECTORY / spec / file
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            elif not target.exists() or target.stat().st_size != origin.stat().st_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def _subresource_digest(path: Path, algorithm: str) -> str:
    return base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode("ascii")


def _check_integrity(tag: str, local_file: Path, url: str) -> None:
    """The template pins some CDN files by hash: the local copy must be those very bytes."""
    found = _INTEGRITY_VALUE.search(tag)
    if not found:
        return
    for expected in found.group(2).split():
        algorithm, _, digest = expected.partition("-")
        if (
            algorithm in ("sha256", "sha384", "sha512")
            and _subresource_digest(local_file, algorithm) != digest
        ):
            raise DataDocsError(
                f"{local_file} does not match the integrity hash GE's template gives for {url}; "
                f"delete {local_file.parent} and run `{ASSETS_MAKE_TARGET}` again"
            )


def _local_target(url: str, site: Path) -> Path | None:
    if url in CDN_FILES:
        spec, file = CDN_FILES[url]
        return site / VENDOR_DIRECTORY / spec / file
    if url.startswith(GE_WEB_ASSETS):
        name = url[len(GE_WEB_ASSETS) :].split("?", 1)[0]
        local = site / "static" / "images" / GE_IMAGE_SUBSTITUTES.get(name, name)
        return local if local.is_file() else None
    return None


def _relative(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _localise_tag(tag: str, page: Path, site: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        attribute, quote, url = match.groups()
        target = _local_target(url, site)
        if target is None:
            raise DataDocsError(
                f"{page}: {url} is loaded from the Internet and has no local copy; add it to "
                "CDN_FILES in jobs/data_docs.py and run `make datadocs-assets`"
            )
        _check_integrity(tag, target, url)
        return f"{attribute}={quote}{_relative(target, page)}{quote}"

    localised = _URL_ATTRIBUTE.sub(replace, tag)
    if localised == tag:
        return _STATIC_ATTRIBUTE.sub(partial(_repair_static_path, page=page, site=site), tag)
    # Browsers refuse `crossorigin` loads from file:// pages; the hash was checked above instead.
    return _INTEGRITY_ATTRIBUTES.sub("", localised)


def _repair_static_path(match: re.Match[str], page: Path, site: Path) -> str:
    """GE's favicon link on validation pages climbs one directory too few; point it at the site's file."""
    attribute, quote, url = match.groups()
    if (page.parent / url).exists():
        return match.group(0)
    target = site / url[url.index("static/") :]
    return f"{attribute}={quote}{_relative(target, page)}{quote}" if target.exists() else match.group(0)


def _localise_tag_match(match: re.Match[str], page: Path, site: Path) -> str:
    return _localise_tag(match.group(0), page, site)


def _localise_css_urls(text: str, page: Path, site: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        quote, url = match.groups()
        target = _local_target(url, site)
        if target is None:
            raise DataDocsError(f"{page}: {url} is loaded from the Internet and has no local copy")
        return f"url({quote}{_relative(target, page)}{quote})"

    return _CSS_URL.sub(replace, text)


def localise_site(site: Path) -> int:
    """Rewrite every Internet URL a page would load to its local copy; returns the files changed."""
    changed = 0
    for page in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        if VENDOR_DIRECTORY in page.relative_to(site).as_posix():
            continue
        text = page.read_text(encoding="utf-8")
        localised = _localise_css_urls(text, page, site)
        if page.suffix == ".html":
            localised = _LOADING_TAG.sub(partial(_localise_tag_match, page=page, site=site), localised)
        if localised != text:
            page.write_text(localised, encoding="utf-8")
            changed += 1
    return changed


def remote_loads(site: Path) -> list[str]:
    """`file: url` for every Internet URL an HTML page or stylesheet of the site would load."""
    found = []
    for page in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        if VENDOR_DIRECTORY in page.relative_to(site).as_posix():
            continue
        text = page.read_text(encoding="utf-8")
        for tag in _LOADING_TAG.findall(text):
            found += [f"{page}: {m.group(3)}" for m in _URL_ATTRIBUTE.finditer(tag)]
        found += [f"{page}: {m.group(2)}" for m in _CSS_URL.finditer(text)]
    return found


# ---------------------------------------------------------------------------------------------------------
# The GE context and the site
# ---------------------------------------------------------------------------------------------------------


def _local_root(lake_root: str) -> Path:
    if "://" in lake_root and not lake_root.startswith("file://"):
        raise DataDocsError(
            f"Data Docs are written with a file-backed GE context and need a local lake root, not {lake_root}"
        )
    return Path(lake_root.removeprefix("file://"))


def _site_config(site: Path) -> dict[str, Any]:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        # Suites hold engine-only types GE cannot load, and nothing is profiled: only results are shown.
        "site_section_builders": {"expectations": "None", "profiling": "None"},
    }


def _context(quality_dir: Path, site: Path) -> Any:
    context = gx.get_context(mode="file", project_root_dir=str(quality_dir))
    sites = {SITE_NAME: _site_config(site)}
    if context.variables.data_docs_sites != sites or context.variables.analytics_enabled is not False:
        context.variables.data_docs_sites = sites
        context.variables.analytics_enabled = False
        context.variables.save()
    return context


def build_data_docs(
    lake_root: str,
    run_id: str,
    results_by_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    suites_dir: Path | None = None,
    assets: Path | None = None,
) -> Path:
    """Store the run's rule results as GE validation results and rebuild the offline Data Docs site.

    `results_by_dataset` maps a dataset to its per-rule records as the run summary holds them
    (`datasets[].rule_results`: batch_date, rule_id, severity, column, evaluated, failed, pass_rate,
    message_vi, message_en). Earlier runs stay in the store, so the index lists every run. Returns the
    path of `index.html`.
    """
    source = assets or assets_dir()
    _require_assets(source)
    quality_dir = _local_root(lake_root) / "_quality"
    site = quality_dir / SITE_DIRECTORY
    context = _context(quality_dir, site)
    for dataset, records in results_by_dataset.items():
        if not records:
            continue
        for batch_date, result in validation_results(dataset, run_id, records, suites_dir).items():
            key = ValidationResultIdentifier(
                ExpectationSuiteIdentifier(dataset), result.meta["run_id"], batch_date
            )
            context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[SITE_NAME])
    _copy_vendor_files(source, site)
    localise_site(site)
    leftovers = remote_loads(site)
    if leftovers:
        raise DataDocsError("Data Docs pages still load from the Internet: " + "; ".join(leftovers[:5]))
    return site / "index.html"


def _main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Front-end assets of the offline Data Docs")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--npm-packages", action="store_true", help="print the npm specs to fetch")
    action.add_argument("--check-assets", action="store_true", help="fail unless every needed file is there")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    if arguments.npm_packages:
        print("\n".join(vendor_files()))
        return 0
    try:
        _require_assets(assets_dir())
    except DataDocsError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Data Docs assets complete in {assets_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

"""The whole daily flow at scale, side by side with the floor, in one run on one machine.

For each size (dossier rows in landing; payments in the sample generator's proportion, about 0.19 per
dossier) the script measures, each as its own process so start-up is included and memory can be sampled:

(a) flow: `govlake run --lake <lake> --dataset dossiers --dataset payments`: ingest, standardise,
    pseudonymise, validate, quarantine, silver MERGE, invariants, gold marts, Data Docs and the run report.
    The lake already holds the sample's other five datasets (one untimed run), so all three gold marts
    build, as in production;
(b) floor: a bare Spark job with the same Spark settings (master, driver memory, shuffle partitions, the
    same session factory) that reads the same landing files and writes them once as Delta tables;
(c) incremental (at the largest size): one more delivery day with 1% of the stored dossiers and payments in
    a newer version, run by `govlake run` into the lake (a) left;

plus the fixed cost: `govlake run` on an empty landing zone against a bare SparkSession start-up and a
trivial Prefect flow in its ephemeral mode (no PREFECT_API_URL), in one process.

Per variant: wall time, rows per second, peak memory of the process tree (the Python driver, its JVM, Spark's
Python workers, Prefect's temporary server; sampled from /proc) and the JVM's own peak (VmHWM), Spark jobs
(`SparkListenerJobStart` in the Spark event log, enabled through PYSPARK_SUBMIT_ARGS), bytes the run added
to the lake, and where the time went (executor time per call site, scans per source, Python UDF stages,
time with no Spark job running).

Input: `jobs.sample.generate_sample` writes three days of deliveries (11,123 dossier lines, 2,110 payments
with the sample's defect mix); Spark replicates them on the executors to the wanted size and writes them in
the delivered formats straight into `landing/<agency>/<dataset>/<yyyy-mm-dd>/` (JSON lines for dossiers,
UTF-8 CSV for payments, one file per day). Each copy gets distinct business keys in the portal's own code
shape (the `H12-25` part of MaHoSo carries the copy number), so payments still join their dossiers and pass
the dossier-code rule. Landing is generated once per size and seed, then hard-linked into each lake.

    nice python benchmarks/flow_scale.py --rows 50000 200000 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host import host_facts

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO / ".cache" / "bench-flow"
GOVLAKE = str(Path(sys.executable).with_name("govlake"))
TEMPLATE_DAYS, TEMPLATE_DOSSIERS_PER_DAY = 3, 3000
FIRST_DAY = dt.date(2025, 6, 29)
INCREMENTAL_DAY = FIRST_DAY + dt.timedelta(days=TEMPLATE_DAYS)
CHANGED_SHARE_PERCENT = 1
MEASURED_DATASETS = ("dossiers", "payments")
DOSSIER_FOLDER, PAYMENT_FOLDER = ("cong-dvc", "dossiers"), ("paygov", "payments")
# MaHoSo is <unit>.<level 3>.<level 2>.H12-<yymmdd>-<number>; every sample code has `H12-25` (province
# suffix, year). A copy number c < 10,000 rewrites it to H<12 + c mod 100>-<25 + c div 100> (mod 100), so
# copy 0 is the sample itself and every copy's codes stay distinct and in the portal's shape.
CODE_PREFIX = r"([0-9]{3}\.[0-9]{2}\.[0-9]{2})\.H12-25"
MAX_COPIES = 10_000
RSS_SAMPLE_SECONDS = 0.2
# Child processes print their figures on a line of their own, among Spark's and Prefect's log lines.
RESULT_MARKER = "flow-scale-result: "


# ---------------------------------------------------------------------------------------------------------
# Landing: the sample, replicated by Spark in the delivered formats
# ---------------------------------------------------------------------------------------------------------


def template_landing(workdir: Path, seed: int) -> Path:
    from jobs.sample import generate_sample

    root = workdir / f"template-seed{seed}"
    if not (root / "landing" / Path(*DOSSIER_FOLDER)).is_dir():
        generate_sample(
            root / "landing",
            root / "manifest.json",
            days=TEMPLATE_DAYS,
            start=FIRST_DAY,
            dossiers_per_day=TEMPLATE_DOSSIERS_PER_DAY,
            seed=seed,
        )
    return root / "landing"


def _copy_codes(copy: Any) -> tuple[Any, Any]:
    """The two code parts that carry the copy number: `H<hh>` and `<yy>` (see CODE_PREFIX)."""
    from pyspark.sql import functions as F

    province = F.format_string("%02d", ((F.lit(12) + copy % 100) % 100).cast("int"))
    year = F.format_string("%02d", ((F.lit(25) + F.floor(copy / 100)) % 100).cast("int"))
    return province, year


def _with_template_index(frame: Any) -> Any:
    """Day from the folder, and a dense index in day then file order (the sample is small: one partition)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    with_day = frame.withColumn(
        "_day", F.regexp_extract(F.col("_metadata.file_path"), r"/([0-9]{4}-[0-9]{2}-[0-9]{2})/", 1)
    ).withColumn("_order", F.monotonically_increasing_id())
    return with_day.withColumn("_index", F.row_number().over(Window.orderBy("_day", "_order")) - 1).drop(
        "_order"
    )


def _replicated(spark: Any, templates: Any, rows: int) -> Any:
    """`rows` rows: copy c of template i for c * templates + i < rows, generated on the executors."""
    from pyspark.sql import functions as F

    count = templates.count()
    copies = math.ceil(rows / count)
    if copies > MAX_COPIES:
        raise SystemExit(f"{rows:,} rows need {copies:,} copies of the sample; at most {MAX_COPIES:,}")
    # Enough partitions that both cores write from the start and no task holds a huge slice.
    partitions = max(2, min(64, rows // 250_000 + 2))
    return (
        spark.range(0, copies, numPartitions=partitions)
        .withColumnRenamed("id", "_copy")
        .crossJoin(F.broadcast(templates))
        .where(F.col("_copy") * count + F.col("_index") < rows)
    )


def _move_parts(staging: Path, landing: Path, folder: tuple[str, str], name: str, suffix: str) -> list[Path]:
    """Spark's `_day=<date>/part-*` files → landing/<agency>/<dataset>/<date>/<name>_<yyyymmdd><suffix>."""
    moved = []
    for day_dir in sorted(staging.glob("_day=*")):
        day = day_dir.name.split("=", 1)[1]
        parts = sorted(p for p in day_dir.iterdir() if p.name.startswith("part-"))
        target_dir = landing / Path(*folder) / day
        target_dir.mkdir(parents=True, exist_ok=True)
        for number, part in enumerate(parts, start=1):
            label = "" if len(parts) == 1 else f"_{number:02d}"
            target = target_dir / f"{name}_{day.replace('-', '')}{label}{suffix}"
            part.rename(target)
            moved.append(target)
    shutil.rmtree(staging)
    return moved


def write_dossiers(spark: Any, template: Path, landing: Path, rows: int, staging: Path) -> int:
    """JSON lines as the portal sends them: the sample's lines, byte for byte but for the copy's codes."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    lines = _with_template_index(spark.read.text(str(template / Path(*DOSSIER_FOLDER) / "*" / "*.jsonl")))
    province, year = _copy_codes(F.col("_copy"))
    replicated = _replicated(spark, lines, rows).select(
        "_day",
        F.regexp_replace(
            "value",
            F.lit('"MaHoSo":"' + CODE_PREFIX),
            F.concat(F.lit('"MaHoSo":"$1.H'), province, F.lit("-"), year),
        ).alias("value"),
    )
    written = Observation("dossiers")
    # One file per delivery day, as the portal delivers.
    (
        replicated.observe(written, F.count(F.lit(1)).alias("rows"))
        .repartition("_day")
        .write.partitionBy("_day")
        .text(str(staging))
    )
    _move_parts(staging, landing, DOSSIER_FOLDER, "hoso", ".jsonl")
    return int(written.get["rows"])


def _csv_reader(spark: Any) -> Any:
    return spark.read.option("header", "true").option("escape", '"').option("encoding", "UTF-8")


def _write_payment_csv(frame: Any, staging: Path) -> None:
    (
        frame.repartition("_day")
        .write.partitionBy("_day")
        .option("header", "true")
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .csv(str(staging))
    )


def write_payments(spark: Any, template: Path, landing: Path, rows: int, staging: Path) -> int:
    """UTF-8 CSV as the gateway sends it; transaction ids get the copy number, dossier codes the copy's."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    payments = _with_template_index(
        _csv_reader(spark).csv(str(template / Path(*PAYMENT_FOLDER) / "*" / "*.csv"))
    )
    columns = [c for c in payments.columns if not c.startswith("_")]
    province, year = _copy_codes(F.col("_copy"))
    code = F.concat(F.lit("$1.H"), province, F.lit("-"), year)
    transaction = F.col("MaGiaoDich")
    changed = {
        # A missing id (an injected defect) stays missing.
        "MaGiaoDich": F.when(
            (F.col("_copy") > 0) & (F.trim(transaction) != ""),
            F.concat(transaction, F.lit("C"), F.format_string("%04d", F.col("_copy").cast("int"))),
        ).otherwise(transaction),
        "MaHoSo": F.regexp_replace("MaHoSo", F.lit("^" + CODE_PREFIX), code),
        "NoiDungThanhToan": F.regexp_replace("NoiDungThanhToan", F.lit(CODE_PREFIX), code),
    }
    replicated = _replicated(spark, payments, rows).withColumns(changed).select(*columns, "_day")
    written = Observation("payments")
    _write_payment_csv(replicated.observe(written, F.count(F.lit(1)).alias("rows")), staging)
    _move_parts(staging, landing, PAYMENT_FOLDER, "giaodich", ".csv")
    return int(written.get["rows"])


def write_changed_day(spark: Any, landing: Path, target: Path, staging: Path) -> dict[str, int]:
    """One more delivery day: 1% of the dossiers and payments in `landing`, each once, in a newer version."""
    from pyspark.sql import functions as F

    def one_percent(key: Any) -> Any:
        return (
            (key.isNotNull()) & (F.trim(key) != "") & (F.abs(F.xxhash64(key)) % 100 < CHANGED_SHARE_PERCENT)
        )

    day = INCREMENTAL_DAY
    lines = spark.read.text(str(landing / Path(*DOSSIER_FOLDER) / "*" / "*.jsonl"))
    key = F.get_json_object("value", "$.MaHoSo")
    dossiers = (
        lines.withColumn("_key", key)
        .where(one_percent(F.col("_key")))
        .dropDuplicates(["_key"])
        .select(
            F.lit(day.isoformat()).alias("_day"),
            F.regexp_replace("value", r'"NgayCapNhat":"[^"]*"', f'"NgayCapNhat":"{day:%Y%m%d}083000"').alias(
                "value"
            ),
        )
    )
    dossier_rows = dossiers.count()
    dossiers.repartition("_day").write.partitionBy("_day").text(str(staging / "dossiers"))
    _move_parts(staging / "dossiers", target, DOSSIER_FOLDER, "hoso", ".jsonl")

    payments = _csv_reader(spark).csv(str(landing / Path(*PAYMENT_FOLDER) / "*" / "*.csv"))
    changed = (
        payments.where(one_percent(F.col("MaGiaoDich")))
        .dropDuplicates(["MaGiaoDich"])
        .withColumns({"ThoiGianCapNhat": F.lit(f"{day:%d/%m/%Y} 08:30:00"), "_day": F.lit(day.isoformat())})
    )
    payment_rows = changed.count()
    _write_payment_csv(changed, staging / "payments")
    _move_parts(staging / "payments", target, PAYMENT_FOLDER, "giaodich", ".csv")
    return {"dossiers": dossier_rows, "payments": payment_rows}


@dataclass
class Landing:
    path: Path
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _line_count(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def generated_landing(spark: Any, workdir: Path, template: Path, rows: int, seed: int) -> Landing:
    """Dossiers and payments for `rows` dossier rows, written once per size and seed (counts kept beside)."""
    root = workdir / f"landing-{rows}-seed{seed}"
    counts_file = root / "rows.json"
    if counts_file.is_file():
        return Landing(root / "landing", json.loads(counts_file.read_text()))
    shutil.rmtree(root, ignore_errors=True)
    template_rows = sum(_line_count(p) for p in (template / Path(*DOSSIER_FOLDER)).glob("*/*.jsonl"))
    # Payment CSVs have a header line and no line breaks inside values.
    template_payments = sum(_line_count(p) - 1 for p in (template / Path(*PAYMENT_FOLDER)).glob("*/*.csv"))
    payment_rows = round(rows * template_payments / template_rows)
    counts = {
        "dossiers": write_dossiers(spark, template, root / "landing", rows, root / "staging-dossiers"),
        "payments": write_payments(
            spark, template, root / "landing", payment_rows, root / "staging-payments"
        ),
    }
    counts_file.write_text(json.dumps(counts))
    return Landing(root / "landing", counts)


def generated_changed_day(spark: Any, workdir: Path, landing: Landing, seed: int) -> Landing:
    root = workdir / f"changed-day-{landing.rows['dossiers']}-seed{seed}"
    counts_file = root / "rows.json"
    if counts_file.is_file():
        return Landing(root / "landing", json.loads(counts_file.read_text()))
    shutil.rmtree(root, ignore_errors=True)
    counts = write_changed_day(spark, landing.path, root / "landing", root / "staging")
    counts_file.write_text(json.dumps(counts))
    return Landing(root / "landing", counts)


def hard_link_tree(source: Path, target: Path) -> None:
    """The landing files in another lake without copying bytes (the platform never changes landing)."""
    for path in source.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


# ---------------------------------------------------------------------------------------------------------
# Measuring one process tree
# ---------------------------------------------------------------------------------------------------------


def _process_table() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # ended while we looked
                continue
    return parents


def _tree(root: int) -> set[int]:
    parents = _process_table()
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(frontier)
    return tree


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")  # own utime + stime


class TreeSampler(threading.Thread):
    """Peak resident memory of a process tree (sum over its processes, sampled) and each process's VmHWM."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.peak_tree_kib = 0
        self.hwm_kib: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            for pid in _tree(self.root):
                status = _status(pid)
                if not status:
                    continue
                total += int(status.get("VmRSS", "0 kB").split()[0])
                self.hwm_kib[pid] = max(self.hwm_kib.get(pid, 0), int(status.get("VmHWM", "0 kB").split()[0]))
                self.names[pid] = status.get("Name", "").strip()
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
            self.peak_tree_kib = max(self.peak_tree_kib, total)
            self.stop.wait(RSS_SAMPLE_SECONDS)

    def peak_of(self, name: str) -> int:
        return max((kib for pid, kib in self.hwm_kib.items() if self.names.get(pid) == name), default=0)


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@dataclass
class Measured:
    name: str
    rows: int
    seconds: float
    exit_code: int
    peak_tree_mib: float
    peak_jvm_mib: float
    peak_python_mib: float
    cpu_seconds: float
    bytes_written: int
    load_average: list[float]
    log: str
    spark: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.name,
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second) if self.rows_per_second else None,
            "exit_code": self.exit_code,
            "peak_tree_mib": round(self.peak_tree_mib),
            "peak_jvm_mib": round(self.peak_jvm_mib),
            "peak_python_driver_mib": round(self.peak_python_mib),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "bytes_written": self.bytes_written,
            "load_average": self.load_average,
            "log": self.log,
            "spark": self.spark,
            **self.notes,
        }


class Runner:
    """Runs each variant as a child process with the same Spark settings, event log and Prefect home."""

    def __init__(self, workdir: Path, settings: dict[str, str]) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.event_logs = workdir / "event-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.event_logs.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.counter = 0

    def environment(self, event_log_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLAKE_", "PREFECT_API"))}
        env |= self.settings
        env["PYTHONPATH"] = str(REPO)
        # A Prefect home of its own: the ephemeral server's database is not shared with other users' runs.
        env["PREFECT_HOME"] = str(self.workdir / "prefect-home")
        # Spark event logs through spark-submit's own arguments: jobs/ is measured as it is.
        env["PYSPARK_SUBMIT_ARGS"] = " ".join(
            [
                "--conf spark.eventLog.enabled=true",
                f"--conf spark.eventLog.dir=file://{event_log_dir}",
                "--conf spark.eventLog.compress=false",
                "--conf spark.eventLog.rolling.enabled=false",
                "pyspark-shell",
            ]
        )
        return env

    def run(
        self, name: str, command: list[str], rows: int, lake: Path | None, quiet: bool = False
    ) -> Measured:
        self.counter += 1
        label = f"{self.counter:02d}-{name}"
        event_log_dir = self.event_logs / label
        event_log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{label}.log"
        before = directory_bytes(lake) if lake and lake.exists() else 0
        started = time.perf_counter()
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.environment(event_log_dir),
            )
            sampler = TreeSampler(child.pid)
            sampler.start()
            exit_code = child.wait()
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        load = [round(x, 2) for x in os.getloadavg()]
        after = directory_bytes(lake) if lake and lake.exists() else 0
        # One file, or (rolling logs) a folder of events_<n>_… files.
        event_logs = sorted(
            (
                p
                for p in event_log_dir.rglob("*")
                if p.is_file() and not p.name.startswith(("appstatus", "."))
            ),
            key=lambda p: [int(part) if part.isdigit() else 0 for part in p.name.split("_")[1:2]],
        )
        measured = Measured(
            name=name,
            rows=rows,
            seconds=seconds,
            exit_code=exit_code,
            peak_tree_mib=sampler.peak_tree_kib / 1024,
            peak_jvm_mib=sampler.peak_of("java") / 1024,
            peak_python_mib=sampler.hwm_kib.get(child.pid, 0) / 1024,
            cpu_seconds=sum(sampler.cpu.values()),
            bytes_written=after - before,
            load_average=load,
            log=str(log_path),
            spark=_event_log_figures(event_logs, started_at=time.time() - seconds),
        )
        if not quiet:
            print(
                f"{rows:>10,} rows  {name:22} {seconds:8.1f} s  exit {exit_code}  "
                f"tree {measured.peak_tree_mib:7,.0f} MiB  jvm {measured.peak_jvm_mib:6,.0f} MiB  "
                f"jobs {measured.spark.get('jobs', 0):5}  load {load[0]}",
                flush=True,
            )
        return measured

    def govlake_run(self, name: str, lake: Path, rows: int) -> Measured:
        datasets = [arg for d in MEASURED_DATASETS for arg in ("--dataset", d)]
        measured = self.run(name, [GOVLAKE, "run", "--lake", str(lake), *datasets], rows, lake)
        measured.notes["run_summary"] = latest_run_summary(lake)
        return measured

    def script(self, name: str, arguments: list[str], rows: int, lake: Path | None) -> Measured:
        return self.run(name, [sys.executable, str(Path(__file__).resolve()), *arguments], rows, lake)


def _event_log_figures(event_logs: list[Path], started_at: float) -> dict[str, Any]:
    if not event_logs:
        return {}
    try:
        return analyse_event_log(event_logs, started_at)
    except (OSError, ValueError, KeyError) as error:  # a killed run leaves a truncated log: keep the timing
        return {"error": f"{type(error).__name__}: {error}"}


def child_result(measured: Measured) -> dict[str, Any]:
    lines = Path(measured.log).read_text(encoding="utf-8", errors="replace").splitlines()
    found = [line.split(RESULT_MARKER, 1)[1] for line in lines if RESULT_MARKER in line]
    return json.loads(found[-1]) if found else {}


def latest_run_summary(lake: Path) -> dict[str, Any]:
    runs = sorted((lake / "_ops" / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return {}
    summary = json.loads(runs[-1].read_text(encoding="utf-8"))
    return {
        "run_id": summary.get("run_id"),
        "status": summary.get("status"),
        "stage_seconds": summary.get("stage_seconds"),
        "problems": summary.get("problems"),
        "datasets": [
            {k: d.get(k) for k in ("dataset", "status", "rows_read", "bronze_rows", "valid", "quarantined",
                                   "inserted", "updated", "conserved", "stage_seconds")}
            | {"files_ingested": sum(f.get("status") == "ingested" for f in d.get("files", [])),
               "files_rejected": sum(f.get("status") == "rejected" for f in d.get("files", []))}
            for d in summary.get("datasets", [])
        ],
        "marts": summary.get("marts"),
    }  # fmt: skip


def accepted(measured: Measured, expected: dict[str, int]) -> dict[str, Any]:
    """Conservation as govlake reports it: every delivered row read, and read = stored + quarantined."""
    by_dataset = {d["dataset"]: d for d in measured.notes.get("run_summary", {}).get("datasets", [])}
    checks = {}
    for dataset, rows in expected.items():
        d = by_dataset.get(dataset, {})
        checks[dataset] = {
            "delivered": rows,
            "rows_read": d.get("rows_read"),
            "valid": d.get("valid"),
            "quarantined": d.get("quarantined"),
            "files_rejected": d.get("files_rejected"),
            "ok": d.get("rows_read") == rows
            and d.get("bronze_rows") == rows
            and (d.get("valid") or 0) + (d.get("quarantined") or 0) == rows
            and bool(d.get("conserved"))
            and not d.get("files_rejected"),
        }
    return checks


# ---------------------------------------------------------------------------------------------------------
# Where the time went: the Spark event log
# ---------------------------------------------------------------------------------------------------------

PYTHON_NODES = ("ArrowEvalPython", "BatchEvalPython", "MapInPandas", "FlatMapGroupsInPandas", "PythonUDTF")
DRIVER_RESULTS = ("collect", "toPandas", "first", "head", "take", "count", "toLocalIterator")


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes, stack = [], [plan]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("children", []))
    return nodes


def _source_of(location: str) -> str:
    """A scanned location as `landing/<dataset>`, `<zone>/<table>` or the path's last parts."""
    path = location.strip("[]").split(",")[0].replace("file:", "")
    parts = [p for p in path.split("/") if p]
    if "landing" in parts:
        at = parts.index("landing")
        return "/".join(["landing", *parts[at + 2 : at + 3]])
    if "staging" in parts:  # decoded copies the readers stage for Spark
        at = parts.index("staging")
        return "/".join(parts[at : at + 2])
    for zone in ("bronze", "silver", "gold", "quarantine", "_quality", "_ops"):
        if zone in parts:
            at = parts.index(zone)
            return "/".join(parts[at : at + 2])
    return "/".join(parts[-2:])


def _events(paths: list[Path]) -> Any:
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def analyse_event_log(paths: list[Path], started_at: float) -> dict[str, Any]:
    """Jobs, executor time per call site, scans per source, Python UDF work and time with no job running."""
    jobs: dict[int, dict[str, Any]] = {}
    stage_job: dict[int, int] = {}
    stage_run_ms: Counter[int] = Counter()
    stage_cpu_ns: Counter[int] = Counter()
    executions: dict[int, dict[str, Any]] = {}
    app_start = app_end = None
    for event in _events(paths):
        kind = event.get("Event", "")
        if kind == "SparkListenerApplicationStart":
            app_start = event["Timestamp"] / 1000
        elif kind == "SparkListenerApplicationEnd":
            app_end = event["Timestamp"] / 1000
        elif kind == "SparkListenerJobStart":
            properties = event.get("Properties") or {}
            stages = event.get("Stage Infos") or [{}]
            job = jobs[event["Job ID"]] = {
                "start": event["Submission Time"] / 1000,
                # PySpark names the Python line for some actions; else the stage name says the action.
                "call_site": properties.get("callSite.short") or stages[-1].get("Stage Name", "?"),
                "execution": properties.get("spark.sql.execution.id"),
            }
            for stage in event.get("Stage IDs", []):
                stage_job[stage] = event["Job ID"]
            job["end"] = job["start"]
        elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
            jobs[event["Job ID"]]["end"] = event["Completion Time"] / 1000
        elif kind == "SparkListenerTaskEnd":
            metrics = event.get("Task Metrics") or {}
            stage_run_ms[event["Stage ID"]] += metrics.get("Executor Run Time", 0)
            stage_cpu_ns[event["Stage ID"]] += metrics.get("Executor CPU Time", 0)
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            nodes = _plan_nodes(event.get("sparkPlanInfo") or {})
            executions[event["executionId"]] = {
                "description": (event.get("description") or "")[:120],
                "scans": [
                    _source_of((n.get("metadata") or {}).get("Location", n.get("simpleString", "")))
                    for n in nodes
                    if n.get("nodeName", "").startswith("Scan ")
                    and "ExistingRDD" not in n.get("nodeName", "")
                    and "LocalTableScan" not in n.get("nodeName", "")
                ],
                "python": any(n.get("nodeName", "").startswith(PYTHON_NODES) for n in nodes),
            }
    job_run_s: Counter[int] = Counter()
    job_cpu_s: Counter[int] = Counter()
    for stage, job in stage_job.items():
        job_run_s[job] += stage_run_ms[stage] / 1000
        job_cpu_s[job] += stage_cpu_ns[stage] / 1e9
    by_site: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for job_id, job in jobs.items():
        site = by_site[job["call_site"]]
        site[0] += 1
        site[1] += job_run_s[job_id]
    # Wall time during which at least one Spark job ran; the rest is driver-side work (Python, Delta log
    # reads and commits, Prefect) or waiting.
    busy, last_end = 0.0, 0.0
    for job in sorted(jobs.values(), key=lambda j: j["start"]):
        start, end = max(job["start"], last_end), job["end"]
        if end > start:
            busy += end - start
        last_end = max(last_end, end)
    scans: Counter[str] = Counter(s for e in executions.values() for s in e["scans"])
    python_executions = {i for i, e in executions.items() if e["python"]}
    python_jobs = [
        j for j, job in jobs.items() if job["execution"] and int(job["execution"]) in python_executions
    ]
    session_s = (app_end or last_end or app_start or 0) - (app_start or 0)
    return {
        "jobs": len(jobs),
        "sql_executions": len(executions),
        "executor_run_s": round(sum(job_run_s.values()), 1),
        "executor_cpu_s": round(sum(job_cpu_s.values()), 1),
        "seconds_before_spark_started": round((app_start or started_at) - started_at, 1),
        "spark_session_s": round(session_s, 1),
        "seconds_with_a_job_running": round(busy, 1),
        "seconds_with_no_job_running": round(max(0.0, session_s - busy), 1),
        "driver_result_jobs": sum(1 for j in jobs.values() if j["call_site"].split(" ")[0] in DRIVER_RESULTS),
        "python_udf_executions": len(python_executions),
        "python_udf_jobs": len(python_jobs),
        "python_udf_executor_s": round(sum(job_run_s[j] for j in python_jobs), 1),
        "scans_by_source": dict(scans.most_common()),
        "call_sites": [
            {"call_site": site, "jobs": n, "executor_s": round(seconds, 1)}
            for site, (n, seconds) in sorted(by_site.items(), key=lambda kv: -kv[1][1])[:25]
        ],
    }


# ---------------------------------------------------------------------------------------------------------
# Child processes: the floor and the bare start-up
# ---------------------------------------------------------------------------------------------------------


def floor_job(landing: Path, target: Path) -> None:
    """Read the landing files the simplest way and write each dataset once as a Delta table."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    import flows  # noqa: F401  (the same process environment defaults as govlake)
    from jobs.config import Settings
    from jobs.session import build_spark

    spark = build_spark(Settings.from_env(lake_root=str(target)), app_name="govlake-bench-floor")
    frames = {
        "dossiers": spark.read.option("primitivesAsString", "true").json(
            str(landing / Path(*DOSSIER_FOLDER) / "*" / "*.jsonl")
        ),
        "payments": _csv_reader(spark).csv(str(landing / Path(*PAYMENT_FOLDER) / "*" / "*.csv")),
    }
    rows = {}
    for dataset, frame in frames.items():
        counted = Observation(dataset)
        frame.withColumn("_source_file", F.col("_metadata.file_path")).observe(
            counted, F.count(F.lit(1)).alias("rows")
        ).write.format("delta").mode("overwrite").save(str(target / dataset))
        rows[dataset] = int(counted.get["rows"])
    print(RESULT_MARKER + json.dumps({"rows": rows}), flush=True)
    spark.stop()


def generate(workdir: Path, seed: int, sizes: list[int]) -> None:
    """Landing for each size and the changed day for the largest (kept: later runs reuse them)."""
    from jobs.config import Settings
    from jobs.session import build_spark

    spark = build_spark(Settings.from_env(lake_root=str(workdir)), app_name="govlake-bench-landing")
    template = template_landing(workdir, seed)
    landings = [generated_landing(spark, workdir, template, rows, seed) for rows in sorted(sizes)]
    generated_changed_day(spark, workdir, landings[-1], seed)
    spark.stop()


def bare_start() -> None:
    """A SparkSession from the same factory and a trivial flow in Prefect's ephemeral mode, timed apart."""
    started = time.perf_counter()
    from prefect import flow

    import flows  # noqa: F401
    from jobs.config import Settings
    from jobs.session import build_spark

    @flow(name="bench-trivial")
    def trivial() -> int:
        return 1

    imported = time.perf_counter()
    spark = build_spark(Settings.from_env(), app_name="govlake-bench-start")
    session_ready = time.perf_counter()
    trivial()
    done = time.perf_counter()
    parts = {
        "imports_s": imported - started,
        "spark_session_s": session_ready - imported,
        "prefect_flow_s": done - session_ready,
    }
    print(
        RESULT_MARKER + json.dumps({name: round(seconds, 2) for name, seconds in parts.items()}), flush=True
    )
    spark.stop()


def trivial_flow() -> None:
    from prefect import flow

    import flows  # noqa: F401

    @flow(name="bench-trivial")
    def trivial() -> int:
        return 1

    trivial()


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    import prefect
    import pyspark

    return {
        **host_facts(),
        "pyspark": pyspark.__version__,
        "delta_spark": version("delta-spark"),
        "prefect": prefect.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "code": code_version(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and which platform files differed from it when the run started."""

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout

    changed = git("status", "--porcelain", "--", "jobs", "flows", "expectations").splitlines()
    return {
        "commit": git("rev-parse", "HEAD").strip(),
        "uncommitted_platform_files": [c[3:] for c in changed],
    }


def seed_lake(runner: Runner, workdir: Path, template: Path, seed: int) -> Path:
    """A lake holding the sample's other five datasets (every gold mart then has its sources); untimed."""
    lake = workdir / f"seed-lake-seed{seed}"
    if (lake / "_ops" / "runs").is_dir() and any((lake / "_ops" / "runs").glob("*.json")):
        return lake
    shutil.rmtree(lake, ignore_errors=True)
    for agency_dir in template.iterdir():
        for dataset_dir in agency_dir.iterdir():
            if dataset_dir.name not in MEASURED_DATASETS:
                hard_link_tree(dataset_dir, lake / "landing" / agency_dir.name / dataset_dir.name)
    others = [d for d in sorted(p.name for p in template.glob("*/*")) if d not in MEASURED_DATASETS]
    command = [GOVLAKE, "run", "--lake", str(lake), *[a for d in others for a in ("--dataset", d)]]
    measured = runner.run("seed-other-datasets", command, 0, lake, quiet=True)
    print(
        f"lake with the other datasets: {lake} ({measured.seconds:.0f} s, exit {measured.exit_code})",
        flush=True,
    )
    return lake


def fresh_lake(workdir: Path, name: str, seed_from: Path | None, landing: Landing | None) -> Path:
    lake = workdir / "lakes" / name
    shutil.rmtree(lake, ignore_errors=True)
    lake.parent.mkdir(parents=True, exist_ok=True)
    if seed_from:
        # Copied, not linked: the run rewrites some files in place (Data Docs, the GE store).
        shutil.copytree(seed_from, lake, symlinks=True)
    if landing:
        hard_link_tree(landing.path, lake / "landing")
    return lake


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["floor"]:
        floor_job(Path(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["generate"]:
        generate(Path(argv[1]), int(argv[2]), [int(rows) for rows in argv[3:]])
        return 0
    if argv[:1] == ["bare-start"]:
        bare_start()
        return 0
    if argv[:1] == ["trivial-flow"]:
        trivial_flow()
        return 0

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[50_000, 200_000], help="dossier rows per size"
    )
    parser.add_argument("--seed", type=int, default=74)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON and the chart")
    parser.add_argument("--driver-memory", default="4g", help="govlake's default")
    parser.add_argument("--shuffle-partitions", type=int, default=4, help="govlake's default")
    parser.add_argument("--spark-master", default="local[*]", help="govlake's default")
    parser.add_argument("--start-up-repeats", type=int, default=2)
    parser.add_argument("--keep-lakes", action="store_true", help="keep each size's lakes for inspection")
    parser.add_argument(
        "--from-progress",
        action="store_true",
        help="measure nothing: report what the last run kept (<workdir>/report-in-progress.json)",
    )
    arguments = parser.parse_args(argv)
    if arguments.from_progress:
        progress = arguments.workdir.resolve() / "report-in-progress.json"
        report = json.loads(progress.read_text(encoding="utf-8"))
        report["rendered_from"] = str(
            progress.relative_to(REPO) if progress.is_relative_to(REPO) else progress
        )
        finish(report, arguments.out)
        return 0
    sizes = sorted(set(arguments.rows))
    workdir: Path = arguments.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "GOVLAKE_SPARK_MASTER": arguments.spark_master,
        "GOVLAKE_DRIVER_MEMORY": arguments.driver_memory,
        "GOVLAKE_SHUFFLE_PARTITIONS": str(arguments.shuffle_partitions),
    }
    report: dict[str, Any] = {"machine": machine(), "spark_settings": settings, "sizes": []}
    print(json.dumps(report["machine"]), flush=True)
    began = time.perf_counter()

    # Landing for every size first, in a process of its own: PySpark's JVM outlives `spark.stop()` and
    # would hold memory and CPU during the timed runs.
    template = template_landing(workdir, arguments.seed)
    generator = [sys.executable, str(Path(__file__).resolve()), "generate", str(workdir), str(arguments.seed)]
    subprocess.run([*generator, *map(str, sizes)], check=True, env={**os.environ, **settings})
    landings = {rows: generated_landing(None, workdir, template, rows, arguments.seed) for rows in sizes}
    changed_day = generated_changed_day(None, workdir, landings[sizes[-1]], arguments.seed)
    report["generation_s"] = round(time.perf_counter() - began, 1)
    for rows, landing in landings.items():
        print(
            f"landing for {rows:,}: {landing.rows} ({directory_bytes(landing.path) / 2**20:,.0f} MiB)",
            flush=True,
        )
    print(f"changed day: {changed_day.rows}", flush=True)

    runner = Runner(workdir, settings)
    # Prefect's database is created and migrated on first use: not part of any timing.
    runner.script("warm-up-prefect", ["trivial-flow"], 0, None)
    seeded = seed_lake(runner, workdir, template, arguments.seed)

    start_up: dict[str, list[Measured]] = {"govlake-empty-landing": [], "bare-spark-and-prefect": []}
    for repeat in range(arguments.start_up_repeats):
        empty = fresh_lake(workdir, f"empty-{repeat}", None, None)
        start_up["govlake-empty-landing"].append(runner.govlake_run("govlake-empty-landing", empty, 0))
        bare = runner.script("bare-spark-and-prefect", ["bare-start"], 0, None)
        bare.notes["parts"] = child_result(bare)
        start_up["bare-spark-and-prefect"].append(bare)
    best = {name: min(runs, key=lambda m: m.seconds) for name, runs in start_up.items()}
    report["fixed_cost"] = {
        "runs": {name: [m.as_dict() for m in runs] for name, runs in start_up.items()},
        "best_seconds": {name: round(m.seconds, 2) for name, m in best.items()},
        "govlake_over_bare": ratio(
            best["govlake-empty-landing"].seconds, best["bare-spark-and-prefect"].seconds
        ),
    }

    for rows in sizes:
        landing = landings[rows]
        entry: dict[str, Any] = {"rows_dossiers": rows, "rows_delivered": landing.rows}
        floor_lake = fresh_lake(workdir, f"floor-{rows}", None, None)
        floor_lake.mkdir(parents=True, exist_ok=True)
        floor = runner.script(
            "floor", ["floor", str(landing.path), str(floor_lake)], landing.total, floor_lake
        )
        floor.notes["rows_written"] = child_result(floor).get("rows")
        lake = fresh_lake(workdir, f"flow-{rows}", seeded, landing)
        flow_run = runner.govlake_run("flow", lake, landing.total)
        flow_run.notes["accepted"] = accepted(flow_run, landing.rows)
        entry["variants"] = {"flow": flow_run.as_dict(), "floor": floor.as_dict()}
        entry["flow_over_floor"] = ratio(flow_run.seconds, floor.seconds)
        report["sizes"].append(entry)
        keep_progress(report, workdir)
        if rows == sizes[-1]:
            hard_link_tree(changed_day.path, lake / "landing")
            incremental = runner.govlake_run("incremental", lake, changed_day.total)
            incremental.notes["accepted"] = accepted(incremental, changed_day.rows)
            entry["variants"]["incremental"] = incremental.as_dict()
            entry["incremental_over_flow"] = ratio(incremental.seconds, flow_run.seconds)
            keep_progress(report, workdir)
        for name in ("flow", "incremental"):
            if name in entry["variants"]:
                print(f"  {name} accepted: {json.dumps(entry['variants'][name]['accepted'])}", flush=True)
        if not arguments.keep_lakes:
            shutil.rmtree(floor_lake, ignore_errors=True)
            shutil.rmtree(lake, ignore_errors=True)

    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["total_s"] = round(time.perf_counter() - began, 1)
    finish(report, arguments.out)
    print(f"whole benchmark: {report['total_s']:.0f} s")
    return 0


def keep_progress(report: dict[str, Any], workdir: Path) -> None:
    """Written after every size: hours of measurement are not lost to a later failure (`--from-progress`)."""
    progress = workdir / "report-in-progress.json"
    progress.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def finish(report: dict[str, Any], out: Path | None) -> None:
    """Ratios, targets, the Markdown table, and with `out` the JSON and the chart."""
    report["growth"] = growth(report["sizes"])
    report["targets"] = targets(report)
    print(markdown(report))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        sizes = "-".join(str(s["rows_dossiers"]) for s in report["sizes"])
        stem = f"flow_scale-{report['machine']['date']}-{sizes}"
        report["chart"] = str(chart(report, out.resolve() / f"{stem}.png").relative_to(REPO))
        target = out / f"{stem}.json"
        target.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        print(f"wrote {target} and {report['chart']}")


def growth(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between consecutive sizes: time ratio, rows ratio and time ratio per rows ratio (1.0 = linear)."""
    steps = []
    for smaller, larger in zip(sizes, sizes[1:], strict=False):
        rows_ratio = larger["rows_dossiers"] / smaller["rows_dossiers"]
        step: dict[str, Any] = {
            "from": smaller["rows_dossiers"],
            "to": larger["rows_dossiers"],
            "rows_ratio": rows_ratio,
        }
        for name in ("flow", "floor"):
            a, b = smaller["variants"][name], larger["variants"][name]
            step[f"{name}_time_ratio"] = ratio(b["seconds"], a["seconds"])
            step[f"{name}_time_ratio_per_rows_ratio"] = ratio(b["seconds"] / a["seconds"], rows_ratio)
            step[f"{name}_peak_tree_ratio"] = ratio(b["peak_tree_mib"], a["peak_tree_mib"])
        steps.append(step)
    return steps


def targets(report: dict[str, Any]) -> dict[str, str]:
    """Each target judged at the size it names when that size was run; otherwise the figure measured."""

    def verdict(value: float | None, limit: float, strict: bool = False) -> str:
        if value is None:
            return "—"
        return "met" if (value < limit if strict else value <= limit) else "not met"

    by_rows = {s["rows_dossiers"]: s for s in report["sizes"]}
    judged = {}
    if 5_000_000 in by_rows:
        measured = by_rows[5_000_000]["flow_over_floor"]
        judged["(a) <= 2.5 x (b) at 5M"] = f"{verdict(measured, 2.5)}: {measured}"
    else:
        measured_at = ", ".join(f"{rows:,}: {s['flow_over_floor']}" for rows, s in by_rows.items())
        judged["(a) <= 2.5 x (b) at 5M"] = f"not run at 5M; measured {measured_at}"
    steps = {(g["from"], g["to"]): g for g in report["growth"]}
    if (5_000_000, 20_000_000) in steps:
        measured = steps[(5_000_000, 20_000_000)]["flow_time_ratio"]
        judged["5M -> 20M time ratio <= 4.4"] = f"{verdict(measured, 4.4)}: {measured}"
    else:
        measured_at = ", ".join(
            f"{g['from']:,} -> {g['to']:,} (rows x{g['rows_ratio']:g}): x{g['flow_time_ratio']}"
            for g in report["growth"]
        )
        judged["5M -> 20M time ratio <= 4.4"] = f"not run; measured {measured_at or '—'}"
    largest = report["sizes"][-1]
    share = largest.get("incremental_over_flow")
    if largest["rows_dossiers"] == 20_000_000:
        judged["(c) < 15% of (a) at 20M"] = f"{verdict(share, 0.15, strict=True)}: {share}"
    else:
        measured = f"at {largest['rows_dossiers']:,}: {share}" if share is not None else "(c) not finished"
        judged["(c) < 15% of (a) at 20M"] = f"not run at 20M; {measured}"
    fixed = report["fixed_cost"]["govlake_over_bare"]
    judged["fixed cost <= 1.5 x (SparkSession + Prefect start-up)"] = f"{verdict(fixed, 1.5)}: {fixed}"
    peaks = ", ".join(f"{s['variants']['flow']['peak_tree_mib']:,}" for s in report["sizes"])
    judged["driver peak memory flat as rows grow"] = f"peak tree MiB by size: {peaks}"
    return judged


def markdown(report: dict[str, Any]) -> str:
    def number(value: float | None, digits: int = 1) -> str:
        return "—" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| rows (dossiers + payments) | variant | wall s | CPU s | rows/s | peak tree MiB | peak JVM MiB "
        "| Spark jobs | no job running s | MiB written | load 1 min |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(rows: str, m: dict[str, Any]) -> str:
        spark = m["spark"]
        return (
            f"| {rows} | {m['variant']} | {number(m['seconds'])} | {number(m['cpu_seconds'], 0)} | "
            f"{number(m['rows_per_second'], 0)} | "
            f"{m['peak_tree_mib']:,} | {m['peak_jvm_mib']:,} | {spark.get('jobs', 0)} | "
            f"{number(spark.get('seconds_with_no_job_running'))} | {m['bytes_written'] / 2**20:,.1f} | "
            f"{m['load_average'][0]} |"
        )

    for runs in report["fixed_cost"]["runs"].values():
        for m in runs:
            lines.append(row("0", m))
    for entry in report["sizes"]:
        for m in entry["variants"].values():
            lines.append(row(f"{m['rows']:,}", m))
    ratios = [("fixed cost: govlake on empty landing / bare start-up (best of each)",
               report["fixed_cost"]["govlake_over_bare"])]  # fmt: skip
    for entry in report["sizes"]:
        rows = f"{entry['rows_dossiers']:,}"
        ratios.append((f"(a) flow / (b) floor at {rows}", entry["flow_over_floor"]))
        if "incremental_over_flow" in entry:
            ratios.append((f"(c) incremental / (a) flow at {rows}", entry["incremental_over_flow"]))
    for g in report["growth"]:
        step = f"{g['from']:,} → {g['to']:,} (rows ×{g['rows_ratio']:g})"
        ratios.append((f"growth {step}: (a) flow time ×", g["flow_time_ratio"]))
        ratios.append((f"growth {step}: (b) floor time ×", g["floor_time_ratio"]))
    lines += ["", "| ratio | value |", "|---|---:|", *[f"| {name} | {number(v, 2)} |" for name, v in ratios]]
    lines += ["", *[f"- {name}: {verdict}" for name, verdict in report["targets"].items()]]
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s["variants"]["flow"]["rows"] for s in report["sizes"]]
    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, style in (("flow", "o-"), ("floor", "s--")):
        seconds = [s["variants"][name]["seconds"] for s in report["sizes"]]
        times.plot(rows, seconds, style, label=f"({'a' if name == 'flow' else 'b'}) {name}")
        memory.plot(rows, [s["variants"][name]["peak_tree_mib"] for s in report["sizes"]], style, label=name)
    first = report["sizes"][0]["variants"]["flow"]
    times.plot(
        rows, [first["seconds"] * r / rows[0] for r in rows], ":", color="grey", label="flow, if linear"
    )
    empty_landing = report["fixed_cost"]["best_seconds"]["govlake-empty-landing"]
    times.axhline(empty_landing, color="grey", lw=0.8, ls="-.", label="govlake, empty landing")
    last = report["sizes"][-1]
    if "incremental" in last["variants"]:
        times.plot(
            [rows[-1]], [last["variants"]["incremental"]["seconds"]], "r^", label="(c) incremental day"
        )
    for axis in (times, memory):
        axis.set_xscale("log")
        axis.set_xlabel("rows delivered (dossiers + payments)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    times.set_yscale("log")
    times.set_ylabel("wall seconds")
    memory.set_ylabel("peak RSS of the process tree, MiB")
    memory.set_ylim(bottom=0)
    load = report["machine"]["load_average_at_start"][0]
    box = report["machine"]
    title = f"govlake daily flow vs floor, {box['cores']} cores, {box['date']}, load average at start {load}"
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


if __name__ == "__main__":
    sys.exit(main())

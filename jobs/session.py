"""The one place a SparkSession is built: Delta configured once, sized for a small machine by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.config import ConfigError, Settings

# The Delta jar matching the pinned delta-spark wheel and pyspark minor version (Scala 2.13).
DELTA_MAVEN_COORDINATE = "io.delta:delta-spark_4.1_2.13:4.4.0"


# Written by `python -m jobs.session` once the jars are resolved: later sessions load them directly, which
# is quiet, faster to start and needs no network.
RESOLVED_JARS_FILE = Path(sys.prefix) / "govlake-delta-jars.txt"


def resolved_delta_jars() -> list[str] | None:
    """Local jar paths resolved earlier for DELTA_MAVEN_COORDINATE, or None when they must be resolved."""
    if not RESOLVED_JARS_FILE.is_file():
        return None
    coordinate, *jars = RESOLVED_JARS_FILE.read_text(encoding="utf-8").split()
    if coordinate != DELTA_MAVEN_COORDINATE or not jars or not all(Path(j).is_file() for j in jars):
        return None
    return jars


def configure_delta(builder: SparkSession.Builder) -> SparkSession.Builder:
    """Add Delta's SQL extension and catalog; its jar is resolved from Maven Central into the Ivy cache."""
    jars = resolved_delta_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    else:
        builder = builder.config("spark.jars.packages", DELTA_MAVEN_COORDINATE)
    return (
        builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        # Delta rebuilds table state with 50 partitions by default: far too many for small tables.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.databricks.delta.schema.autoMerge.enabled", "false")
    )


def configure_for_machine(builder: SparkSession.Builder, settings: Settings) -> SparkSession.Builder:
    builder = (
        builder.master(settings.spark_master)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.default.parallelism", str(max(2, settings.shuffle_partitions)))
        .config("spark.sql.session.timeZone", "Asia/Ho_Chi_Minh")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        # Pseudonyms are HMACs built from Spark built-ins, so the key's pads (128 hex characters) are
        # literals in query plans: redact them from explain output, the UI and event logs.
        .config("spark.sql.redaction.string.regex", "(?i)[0-9a-f]{128}")
    )
    log_config = Path(__file__).with_name("log4j2.properties")
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_config}")
    if settings.spark_master.startswith("local"):
        # Local mode binds to loopback only and lets the driver heap be set before the JVM starts.
        builder = (
            builder.config("spark.driver.memory", settings.driver_memory)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
        )
    else:
        # Executors connect back to the driver: it must listen on an address they can reach (loopback for
        # a cluster on this machine, the host's LAN address for a real one).
        driver_host = settings.driver_host or os.environ.get("SPARK_LOCAL_IP")
        if driver_host:
            builder = builder.config("spark.driver.host", driver_host).config(
                "spark.driver.bindAddress", driver_host
            )
    if settings.spark_packages:
        if resolved_delta_jars() is None:
            # configure_delta would replace spark.jars.packages with Delta's coordinate alone.
            raise ConfigError(
                "spark_packages needs the Delta jars resolved first: run `make install` "
                "(or `python -m jobs.session`) once, then start again"
            )
        builder = builder.config("spark.jars.packages", ",".join(settings.spark_packages))
    if settings.s3_endpoint:
        # Path-style addressing: what MinIO and most on-premise S3-compatible stores expect.
        builder = builder.config("spark.hadoop.fs.s3a.endpoint", settings.s3_endpoint).config(
            "spark.hadoop.fs.s3a.path.style.access", "true"
        )
    if settings.s3_access_key and settings.s3_secret_key:
        # Spark redacts *.access.key and *.secret.key from its UI and logs (spark.redaction.regex).
        builder = builder.config("spark.hadoop.fs.s3a.access.key", settings.s3_access_key).config(
            "spark.hadoop.fs.s3a.secret.key", settings.s3_secret_key
        )
    return builder


def build_spark(settings: Settings, app_name: str = "govlake") -> SparkSession:
    """Return the process's SparkSession, creating it on first use."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Workers must run the same interpreter (and installed packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = configure_delta(configure_for_machine(SparkSession.builder.appName(app_name), settings))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def record_resolved_jars(spark: SparkSession) -> list[str]:
    """Remember the jars Spark's resolver fetched for Delta, so later sessions skip resolution."""
    jars = [
        j.removeprefix("file://").removeprefix("file:")
        for j in (spark.conf.get("spark.jars", "") or "").split(",")
        if j
    ]
    RESOLVED_JARS_FILE.write_text("\n".join([DELTA_MAVEN_COORDINATE, *jars]) + "\n", encoding="utf-8")
    return jars


if __name__ == "__main__":
    # `python -m jobs.session`: resolve the Delta jars into the local cache and prove a Delta write works.
    import tempfile

    RESOLVED_JARS_FILE.unlink(missing_ok=True)
    session = build_spark(Settings.from_env(spark_master="local[1]"), app_name="govlake-setup")
    with tempfile.TemporaryDirectory() as scratch:
        session.range(1).write.format("delta").save(f"{scratch}/probe")
        assert session.read.format("delta").load(f"{scratch}/probe").count() == 1
    resolved = record_resolved_jars(session)
    print(f"Spark {session.version} with {DELTA_MAVEN_COORDINATE} ready ({len(resolved)} jars)")
    session.stop()

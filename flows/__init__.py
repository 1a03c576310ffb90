"""Prefect flows and the `govlake` command line: thin orchestration over `jobs/`."""

import os

# Before Prefect or Great Expectations are imported: no telemetry from a government network, stage
# progress from jobs/ in the flow logs, Spark bound to loopback in local mode.
for _name, _value in {
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "jobs",
    # Commands (rotate-key, report, ...) log from jobs/ outside any flow run: to the console only.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "SPARK_LOCAL_IP": "127.0.0.1",
    # Prefect's temporary server gets 20 s by default, too short on a busy 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}.items():
    os.environ.setdefault(_name, _value)

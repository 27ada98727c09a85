"""The cluster engine: Spark sessions (:mod:`.session`), their Maven-resolved jars (:mod:`.jars`),
the local cluster (:mod:`.cluster`) and the Thrift server's metastore (:mod:`.metastore`).

The session helpers are re-exported here because jobs, dbt's session target and tests import them
as ``s2lake.spark.*``.
"""

from s2lake.spark.session import (
    CONF_ENV,
    JARS_ENV,
    REPO_DEFAULTS,
    build_session,
    defaults_path,
    delta_jars_available,
    delta_session,
    jar_folder,
    local_jars,
    parse_defaults,
    read_defaults,
    sedona_jars_available,
    session_config,
    start_session,
    without_jars,
)

__all__ = [
    "CONF_ENV",
    "JARS_ENV",
    "REPO_DEFAULTS",
    "build_session",
    "defaults_path",
    "delta_jars_available",
    "delta_session",
    "jar_folder",
    "local_jars",
    "parse_defaults",
    "read_defaults",
    "sedona_jars_available",
    "session_config",
    "start_session",
    "without_jars",
]

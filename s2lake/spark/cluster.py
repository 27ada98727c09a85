"""A real local cluster on 127.0.0.1: HDFS, a Spark standalone master and worker, the Thrift server, YARN.

HDFS is Hadoop's own mini cluster (``MiniHadoopClusterManager`` from the Maven-resolved hadoop-minicluster
jars: one NameNode and one DataNode in one JVM); Spark's daemons come from pyspark's ``spark-class``; the
Thrift server runs on the standalone master with the Delta catalog and a Derby metastore in the state
folder. On request (``with_yarn``), a second ``MiniHadoopClusterManager`` runs YARN on that HDFS: a
ResourceManager and one NodeManager in one JVM (``-nodfs``), for ``spark-submit --master yarn``.
Every process starts in its own process group, and the state file (``cluster.json``) records the group
ids, ports and log files, so ``down`` stops exactly what ``up`` started, executors included (a worker's
executors stay in its group; YARN containers, which the NodeManager starts in sessions of their own, are
found by their log folder inside the state folder), and checks that none remains.

Memory: HDFS 384 MB of heap, master and worker 256 MB each, the Thrift server's driver 768 MB and its
executor 512 MB, and 512 MB for each further application's executor: about 3 GB in all. YARN adds 512 MB
of heap and, while an application runs, its containers: 1 GB per executor, 3 GB in all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s2lake.errors import ClusterError
from s2lake.spark.jars import classpath, resolve
from s2lake.spark.session import defaults_path, session_config

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"
#: Processes in start order; ``down`` stops them in reverse.
ORDER = ("hdfs", "master", "worker", "yarn", "thrift")
START_TIMEOUT = {"hdfs": 120, "master": 60, "worker": 90, "yarn": 180, "thrift": 300}
STOP_TIMEOUT = 30
WORKER_CORES = 2
WORKER_MEMORY = "2g"
#: What each application gets on the cluster, so the Thrift server leaves room for one more.
APP_CONF = {
    "spark.cores.max": "1",
    "spark.executor.memory": "512m",
    "spark.driver.host": HOST,
    "spark.driver.bindAddress": HOST,
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
}
#: Spark settings that only a YARN submission reads, written into the cluster's defaults for ``--master yarn``.
YARN_APP_CONF = {
    "spark.yarn.am.memory": "256m",  # client mode's application master: a 768 MB container
    "spark.executor.memoryOverhead": "384m",  # with spark.executor.memory 512m: 1 GB containers
    # a cluster-mode driver ignores spark.driver.host and would take the first non-loopback address
    "spark.yarn.appMasterEnv.SPARK_LOCAL_IP": HOST,
}
#: The NodeManager's share of the machine (three engineers' clusters share 23 GB) and the container limits:
#: a client-mode application master (768 MB) and two executors (1 GB) fit; a cluster-mode driver (Spark's
#: default 1 GB heap + 384 MB) gets 1.5 GB, the largest container; a larger request fails at submission.
YARN_LIMITS = {
    "yarn.nodemanager.resource.memory-mb": "3072",
    "yarn.minicluster.yarn.nodemanager.resource.memory-mb": "3072",  # MiniYARNCluster's own key (4 GB by default)
    "yarn.nodemanager.resource.cpu-vcores": "2",
    "yarn.scheduler.minimum-allocation-mb": "256",
    "yarn.scheduler.maximum-allocation-mb": "1536",
    "yarn.scheduler.maximum-allocation-vcores": "2",
}
#: Hadoop 3.4's web applications (Guice) open java.lang by reflection, which Java 17 refuses by default.
HADOOP_JAVA_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in ("java.lang", "java.lang.reflect", "java.util", "java.util.concurrent", "java.net", "java.io")
]
HADOOP_LOG4J = """log4j.rootLogger=WARN, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.mapreduce.MiniHadoopClusterManager=INFO
"""


@dataclass
class Process:
    pid: int
    log: str
    ports: dict[str, int]


@dataclass
class ClusterState:
    folder: str
    processes: dict[str, Process] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.folder) / STATE_FILE

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(self.path)

    @classmethod
    def load(cls, folder: Path) -> ClusterState | None:
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["processes"] = {name: Process(**p) for name, p in data["processes"].items()}
        return cls(**data)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (reaping it first if it is our own child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pyspark_home() -> Path:
    # lazy: pyspark is the optional [spark] extra
    import pyspark

    return Path(pyspark.__file__).parent


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        raise ClusterError("Java is not installed: the cluster runs on the JVM", fix="install Java 17 or 21")
    return java


def _start(state: ClusterState, name: str, command: list[str], env: dict[str, str], ports: dict[str, int]) -> None:
    folder = Path(state.folder)
    log = folder / "logs" / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: `down` stops it with all its children
        )
    state.processes[name] = Process(proc.pid, str(log), ports)
    state.save()


def _wait(state: ClusterState, name: str, ready: Any) -> None:
    process = state.processes[name]
    deadline = time.monotonic() + START_TIMEOUT[name]
    while time.monotonic() < deadline:
        if ready():
            return
        if not group_alive(process.pid):
            break
        time.sleep(1)
    tail = Path(process.log).read_text(encoding="utf-8", errors="replace")[-1500:]
    what = "exited" if not group_alive(process.pid) else f"did not start within {START_TIMEOUT[name]} s"
    raise ClusterError(
        f"the {name} process {what}; its log ends with: {tail}",
        where=process.log,
        fix="read the log; `s2lake cluster down` stops what did start",
    )


def _alive_workers(web_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{web_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except OSError:
        return 0


def _spark_defaults(folder: Path, master: str, jars: Path, hdfs_url: str) -> Path:
    """The cluster's ``spark-defaults.conf``: the project's settings plus the cluster's master and jars.

    Exported as ``SPARK_CONF_DIR``, it makes spark-submit, pyspark and s2lake's own sessions use this
    cluster with the Maven-resolved jars. The ``spark.yarn.*`` settings serve ``--master yarn``: Spark's
    own jars are taken where they lie (``local:``, every container runs on this machine) instead of
    being uploaded (460 MB) by each submission, and the staging folder is on the cluster's HDFS.
    """
    conf = session_config(jars_folder=str(jars))
    conf |= APP_CONF | {"spark.master": master, "spark.sql.warehouse.dir": f"{hdfs_url}/user/hive/warehouse"}
    conf |= YARN_APP_CONF | {
        "spark.yarn.jars": f"local:{_pyspark_home() / 'jars'}/*",
        "spark.yarn.stagingDir": f"{hdfs_url}/user/spark-staging",
    }
    conf_dir = folder / "conf"
    conf_dir.mkdir(exist_ok=True)
    lines = [f"# written by `s2lake cluster up` from {defaults_path()}"]
    lines += [f"{key} {value}" for key, value in conf.items()]
    (conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf_dir


def up(folder: Path, with_thrift: bool = True, with_yarn: bool = False) -> ClusterState:
    """Start the cluster in ``folder`` (or return it when already running there, adding YARN if asked)."""
    folder = folder.resolve()
    existing = ClusterState.load(folder)
    if existing is not None:
        dead = [name for name, p in existing.processes.items() if not group_alive(p.pid)]
        if not dead:
            if with_yarn and "yarn" not in existing.processes:
                try:
                    _start_yarn(existing, resolve("hadoop"), _daemon_env(folder))
                except BaseException:
                    _stop_yarn(existing)
                    raise
            return existing
        raise ClusterError(
            f"a cluster was started in {folder} and its {', '.join(dead)} process(es) stopped",
            where=str(folder / STATE_FILE),
            fix="run `s2lake cluster down` on that folder, then `s2lake cluster up` again",
        )
    spark_jars, hadoop_jars = resolve("spark"), resolve("hadoop")
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    state = ClusterState(str(folder))
    state.save()
    try:
        _start_all(state, spark_jars, hadoop_jars, with_thrift, with_yarn)
    except BaseException:
        down(folder)
        raise
    return state


def _daemon_env(folder: Path) -> dict[str, str]:
    env = os.environ | {
        "SPARK_HOME": str(_pyspark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_CONF_DIR": str(folder / "conf"),
        "SPARK_LOG_DIR": str(folder / "logs"),
    }
    for key in ("S2LAKE_SPARK_JARS", "HADOOP_CONF_DIR", "YARN_CONF_DIR"):  # another cluster's, if exported
        env.pop(key, None)
    return env


def _hadoop_java(folder: Path, jars: Path, heap: str, *options: str) -> list[str]:
    """The JVM command of a ``MiniHadoopClusterManager`` on the Maven-resolved Hadoop jars."""
    log4j = folder / "log4j.properties"
    log4j.write_text(HADOOP_LOG4J, encoding="utf-8")
    command = [_java(), f"-Xmx{heap}", *HADOOP_JAVA_OPENS, f"-Dlog4j.configuration={log4j.as_uri()}", *options]
    return [*command, "-cp", classpath(jars), "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"]


def _start_all(state: ClusterState, spark_jars: Path, hadoop_jars: Path, with_thrift: bool, with_yarn: bool) -> None:
    folder = Path(state.folder)
    home = _pyspark_home()
    env = _daemon_env(folder)

    nn, nn_http = _free_port(), _free_port()
    details = folder / "hdfs.json"
    details.unlink(missing_ok=True)
    hdfs = [*_hadoop_java(folder, hadoop_jars, "384m"), "-format", "-nomr"]
    hdfs += ["-nnport", str(nn), "-nnhttpport", str(nn_http)]
    hdfs += ["-writeConfig", str(folder / "hadoop-conf.xml"), "-writeDetails", str(details)]
    hdfs += ["-D", f"hdfs.minidfs.basedir={folder / 'dfs'}", "-D", "dfs.replication=1"]
    _start(state, "hdfs", hdfs, env, {"namenode": nn, "namenode_http": nn_http})

    master_port, master_web = _free_port(), _free_port()
    master_url = f"spark://{HOST}:{master_port}"
    hdfs_url = f"hdfs://{HOST}:{nn}"
    conf_dir = _spark_defaults(folder, master_url, spark_jars, hdfs_url)
    spark_class = str(home / "bin" / "spark-class")
    master = [spark_class, "org.apache.spark.deploy.master.Master"]
    master += ["--host", HOST, "--port", str(master_port), "--webui-port", str(master_web)]
    _start(state, "master", master, env, {"master": master_port, "web": master_web})

    _wait(state, "hdfs", lambda: details.is_file() and _listening(nn))
    _wait(state, "master", lambda: _listening(master_port))
    worker_port, worker_web = _free_port(), _free_port()
    worker = [spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", HOST]
    worker += ["--port", str(worker_port), "--webui-port", str(worker_web), "--cores", str(WORKER_CORES)]
    worker += ["--memory", WORKER_MEMORY, "--work-dir", str(folder / "work")]
    _start(state, "worker", worker, env, {"worker": worker_port, "web": worker_web})
    _wait(state, "worker", lambda: _alive_workers(master_web) >= 1)

    state.addresses = {"hdfs": hdfs_url, "namenode_ui": f"http://{HOST}:{nn_http}", "spark_master": master_url}
    state.addresses["spark_master_ui"] = f"http://{HOST}:{master_web}"
    state.exports = {
        "SPARK_CONF_DIR": str(conf_dir),
        "S2LAKE_SPARK_JARS": str(spark_jars),
        "S2LAKE_HDFS": hdfs_url,
    }
    state.save()
    if with_yarn:
        _start_yarn(state, hadoop_jars, env)
    if with_thrift:
        _start_thrift(state, home, env, conf_dir, spark_jars)


def _yarn_work(folder: Path) -> Path:
    return folder / "yarn"


def _yarn_site() -> dict[str, str]:
    """YARN's settings: every address on 127.0.0.1, the container limits, nothing else.

    The ResourceManager's addresses get free ports here (MiniHadoopClusterManager would otherwise keep
    YARN's fixed defaults, 8030-8088, which a second cluster on the machine cannot share); MiniYARNCluster
    gives the NodeManager's ports itself, and the bind hosts keep every listener on 127.0.0.1.
    """
    site = {"yarn.resourcemanager.hostname": HOST, "yarn.nodemanager.hostname": HOST}
    site |= {"yarn.resourcemanager.bind-host": HOST, "yarn.nodemanager.bind-host": HOST}
    for what in ("", "scheduler.", "resource-tracker.", "admin.", "webapp."):
        site[f"yarn.resourcemanager.{what}address"] = f"{HOST}:{_free_port()}"
    # MiniMRYarnCluster adds MapReduce's ShuffleHandler, which listens on every interface (its address cannot
    # be set); with the manifest enabled and none given, the NodeManager runs no auxiliary service at all
    site["yarn.nodemanager.aux-services.manifest.enabled"] = "true"
    return site | YARN_LIMITS


def _write_site(path: Path, properties: dict[str, str]) -> None:
    root = ET.Element("configuration")
    for key, value in properties.items():
        prop = ET.SubElement(root, "property")
        ET.SubElement(prop, "name").text = key
        ET.SubElement(prop, "value").text = value
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _start_yarn(state: ClusterState, hadoop_jars: Path, env: dict[str, str]) -> None:
    """A ResourceManager and a NodeManager on the cluster's HDFS, and the ``yarn-site.xml`` clients read.

    The conf folder holds no ``core-site.xml`` on purpose: a default file system of HDFS would move every
    scheme-less path of the Spark sessions that read the folder to HDFS; Spark's YARN staging goes to HDFS
    through ``spark.yarn.stagingDir`` instead.
    """
    folder = Path(state.folder)
    site = _yarn_site()
    conf_dir = folder / "hadoop-conf"
    _write_site(conf_dir / "yarn-site.xml", site)
    details = folder / "yarn.json"
    details.unlink(missing_ok=True)
    rm_port = int(site["yarn.resourcemanager.address"].rsplit(":", 1)[1])
    work = _yarn_work(folder)
    # the mini cluster's work folders (NodeManager local and log folders) go under test.build.data
    yarn = _hadoop_java(folder, hadoop_jars, "512m", f"-Dtest.build.data={work}")
    yarn += ["-nodfs", "-namenode", state.addresses["hdfs"], "-rmport", str(rm_port), "-writeDetails", str(details)]
    # MapReduce's job history server is of no use to Spark
    yarn += ["-D", "mapreduce.jobhistory.minicluster.enabled=false", "-D", f"hadoop.tmp.dir={work / 'tmp'}"]
    for key, value in site.items():
        yarn += ["-D", f"{key}={value}"]
    _start(state, "yarn", yarn, env, {"resourcemanager": rm_port})
    _wait(state, "yarn", lambda: details.is_file() and _listening(rm_port))
    # no web UI address: in one JVM the ResourceManager's and NodeManager's web apps share Guice's static
    # filter, and the ResourceManager's port serves the NodeManager's pages
    state.addresses["yarn_resourcemanager"] = f"{HOST}:{rm_port}"
    state.exports |= {"HADOOP_CONF_DIR": str(conf_dir), "YARN_CONF_DIR": str(conf_dir)}
    state.save()


def _stop_yarn(state: ClusterState) -> None:
    """Undo a failed ``up --yarn`` on a running cluster: stop YARN and its containers, keep the rest."""
    process = state.processes.pop("yarn", None)
    if process is not None:
        _stop(process.pid)
    for pgid in container_groups(Path(state.folder)):
        _stop(pgid)
    state.save()


def container_groups(folder: Path) -> set[int]:
    """Process groups of the YARN containers of the cluster in ``folder``, found in /proc.

    The NodeManager starts each container with ``setsid``, out of the YARN process's group, and they
    outlive it when it is killed; each container's environment names its log folder (``LOG_DIRS``),
    which MiniYARNCluster puts in its work folder, and its children (the executor's JVM, Python workers) inherit it.
    """
    logs = _yarn_work(folder.resolve())
    groups = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
            pgid = os.getpgid(int(environ.parent.name))
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(b"LOG_DIRS=") and any(
                Path(p).is_relative_to(logs) for p in entry[9:].decode(errors="replace").split(",")
            ):
                groups.add(pgid)
    return groups


def _start_thrift(state: ClusterState, home: Path, env: dict[str, str], conf_dir: Path, jars: Path) -> None:
    folder = Path(state.folder)
    port = _free_port()
    metastore = f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"
    thrift = [str(home / "bin" / "spark-submit"), "--properties-file", str(conf_dir / "spark-defaults.conf")]
    for key, value in {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        # on spark.jars alone, the server's statement threads fail to load Delta's classes
        # (ClassNotFoundException: ...delta.commands.cdc.CDCReader$): the driver gets them on its class path
        "spark.driver.extraClassPath": classpath(jars),
    }.items():
        thrift += ["--conf", f"{key}={value}"]
    thrift += ["--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2", "spark-internal"]
    thrift += ["--hiveconf", f"hive.server2.thrift.port={port}", "--hiveconf", f"hive.server2.thrift.bind.host={HOST}"]
    # spark-submit sizes the Thrift server's driver by SPARK_DAEMON_MEMORY, not spark.driver.memory
    _start(state, "thrift", thrift, env | {"SPARK_DAEMON_MEMORY": "768m"}, {"thrift": port})
    _wait(state, "thrift", lambda: _listening(port))
    state.addresses["thrift"] = f"{HOST}:{port}"
    state.exports |= {
        "S2LAKE_MODELS__SPARK_METHOD": "thrift",
        "S2LAKE_MODELS__SPARK_HOST": HOST,
        "S2LAKE_MODELS__SPARK_PORT": str(port),
    }
    state.save()


def status(folder: Path) -> dict[str, dict[str, Any]]:
    """Per process: whether its group runs and which of its ports answer."""
    state = ClusterState.load(folder.resolve())
    if state is None:
        return {}
    return {
        name: {
            "pid": p.pid,
            "running": group_alive(p.pid),
            "ports": {what: (port, _listening(port)) for what, port in p.ports.items()},
            "log": p.log,
        }
        for name, p in state.processes.items()
    }


def down(folder: Path) -> list[str]:
    """Stop every process group ``up`` started in ``folder``, newest first; fail if any survives."""
    folder = folder.resolve()
    state = ClusterState.load(folder)
    if state is None:
        return []
    names = sorted(state.processes, key=lambda n: -ORDER.index(n))
    for name in names:
        _stop(state.processes[name].pid)
    containers = container_groups(folder)
    for pgid in containers:
        _stop(pgid)
    survivors = [name for name in names if group_alive(state.processes[name].pid)]
    survivors += [f"YARN container {pgid}" for pgid in containers if group_alive(pgid)]
    if survivors:
        raise ClusterError(
            f"the {', '.join(survivors)} process group(s) survived SIGKILL",
            where=str(state.path),
            fix="check `ps -eo pid,pgid,cmd` for those group ids; the state file is kept so `down` can retry",
        )
    state.path.unlink()
    return names


def _stop(pgid: int) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.2)


def default_folder(state_uri: str) -> Path:
    return Path(state_uri) / "cluster"

"""A one-node SLURM cluster with accounting and two fake GPUs, started for the tests.

Everything comes from Debian's packages (``slurm-wlm``, ``slurmdbd``, ``munge``,
``mariadb-server``); nothing is installed here. There is no systemd on the test
machines, so the daemons are started by hand, each in the foreground as a child
of this process: munged (with a key made for the run), MariaDB (a private data
folder, a socket in the run folder and a port on loopback), slurmdbd,
slurmctld and slurmd. Every file they read or write lives in one temporary
folder, and their ports are picked free, so the cluster leaves the machine's
own SLURM or MariaDB, if any, alone.

The GPUs are character devices with the NVIDIA major number (195) made in the
run folder: SLURM's GRES code needs device files, never opens them, and sets
``CUDA_VISIBLE_DEVICES`` in each job for the cards it gave that job.

Memory is enforced without cgroups: ``jobacct_gather/linux`` samples every
task each second and ``JobAcctGatherParams=OverMemoryKill`` kills a step that
grew past its ``--mem``, which sacct then reports as ``OUT_OF_MEMORY``.

From pytest, use the ``slurm_cluster`` fixture (import it into a test module);
by hand, for debugging::

    python tests/slurm_cluster.py up      # prints the environment to use, then waits
    python tests/slurm_cluster.py check   # says what is missing, if anything
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The daemons and commands the cluster needs, and the Debian package of each.
BINARIES = {
    "munged": "munge",
    "mariadb-install-db": "mariadb-server",
    "mariadbd": "mariadb-server",
    "mariadb": "mariadb-client",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurm-wlm",
    "slurmd": "slurm-wlm",
    "sacctmgr": "slurm-wlm",
    "sacct": "slurm-wlm",
    "sbatch": "slurm-wlm",
    "squeue": "slurm-wlm",
    "sinfo": "slurm-wlm",
    "scancel": "slurm-wlm",
}
#: The NVIDIA character-device major number.
NVIDIA_MAJOR = 195
CLUSTER = "autokr"
ACCOUNT = "autokr"
PARTITION = "gpu"
#: Seconds that starting the whole cluster may take.
START_SECONDS = 120
#: Seconds each daemon gets to stop on SIGTERM before it is killed.
STOP_SECONDS = 15


class ClusterError(RuntimeError):
    """The cluster did not start or did not answer in time; says which daemon and its log."""


def missing_requirements() -> str | None:
    """Why the cluster cannot run on this machine, or None when it can."""
    if sys.platform != "linux":
        return "the SLURM test cluster runs on Linux only"
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (munged, slurmd and mknod for the fake GPUs)"
    missing = sorted(name for name in [*BINARIES, "unshare"] if _find(name) is None)
    if missing:
        packages = sorted({BINARIES[name] for name in missing})
        return (
            f"the SLURM test cluster needs {', '.join(missing)}: "
            f"apt-get install {' '.join(packages)}"
        )
    if not Path("/etc/slurm").is_dir():
        return "/etc/slurm is missing (it comes with slurm-wlm)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed: pip install -r requirements.txt"
    return _kernel_refusal()


def _kernel_refusal() -> str | None:
    """Why this machine's kernel (a container without privileges) cannot host the node."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            os.mknod(Path(tmp) / "gpu0", 0o600 | 0o020000, os.makedev(NVIDIA_MAJOR, 0))
        except OSError as exc:
            return f"the fake GPUs need mknod of character devices, refused here: {exc}"
    probe = subprocess.run(
        [_find("unshare") or "unshare", "--mount", "--propagation=private", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode:
        return f"the node needs a mount namespace (unshare --mount), refused here: {probe.stderr}"
    return None


def _find(name: str) -> str | None:
    # The daemons live in /usr/sbin, which a non-login root shell may leave off PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(name, path=path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, ready: Callable[[], bool], seconds: float, poll: float = 0.2) -> None:
    """Poll ``ready()`` until it is true; ClusterError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(poll)


@dataclass
class Daemon:
    """One started daemon: its process and its log file."""

    name: str
    proc: subprocess.Popen
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_SECONDS)


@dataclass
class SlurmCluster:
    """A one-node SLURM cluster in a temporary folder; a context manager.

    ``env`` is the environment for its clients (sbatch, sacct, snakemake with
    the slurm executor): it names the run's slurm.conf and munge socket.
    ``job_env`` (see :meth:`set_job_env`) is exported into every task the
    node runs, through a TaskProlog, as a compute node's own settings would be.
    """

    gpus: int = 2
    cpus: int = max(4, os.cpu_count() or 1)
    #: Memory each CPU gets when a job names none (without it a job takes the whole node).
    def_mem_per_cpu: int = 1000
    #: How long a finished job stays in squeue, for the plugin's squeue fallback.
    min_job_age: int = 600
    root: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    node: str = field(init=False)
    daemons: list[Daemon] = field(init=False, default_factory=list)

    partition: str = PARTITION
    account: str = ACCOUNT

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        reason = missing_requirements()
        if reason:
            raise ClusterError(reason)
        self.root = Path(tempfile.mkdtemp(prefix="autokr-slurm-"))
        self.node = socket.gethostname().split(".")[0]
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        started = time.monotonic()
        self._write_files()
        self._start_munge()
        self._start_mariadb()
        self._start_slurmdbd()
        self.sacctmgr("add", "cluster", CLUSTER)
        self.sacctmgr("add", "account", self.account, f"Cluster={CLUSTER}", "Description=tests")
        self.sacctmgr("add", "user", getpass.getuser(), f"Account={self.account}")
        self._start_daemon("slurmctld", ["slurmctld", "-D", "-i"])
        # The plugin's job step drops SLURM_CONF before it calls srun, which
        # then reads the default /etc/slurm/slurm.conf. slurmd (and so every
        # job) runs in a mount namespace where /etc/slurm is this run's folder;
        # the machine's own /etc/slurm is left alone.
        self._start_daemon(
            "slurmd",
            [
                "unshare",
                "--mount",
                "--propagation=private",
                "--",
                "sh",
                "-c",
                'mount --bind "$1" /etc/slurm && exec slurmd -D -N "$2"',
                "sh",
                str(self.root),
                self.node,
            ],
            log=self.root / "log" / "slurmd.log",
        )
        wait_until("the node to be idle", self._node_idle, START_SECONDS, poll=0.5)
        wait_until("sacct to answer", self._sacct_answers, START_SECONDS, poll=0.5)
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Cancel every job, stop every daemon this cluster started, remove its folder."""
        if any(d.name == "slurmctld" and d.proc.poll() is None for d in self.daemons):
            self.run("scancel", f"--partition={self.partition}", check=False)
            with contextlib.suppress(ClusterError):
                wait_until("jobs to end", lambda: not self.queue(), 30)
        for daemon in reversed(self.daemons):
            daemon.stop()
        self._kill_stray_steps()
        self.daemons.clear()
        if getattr(self, "root", None):
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_stray_steps(self) -> None:
        # slurmstepd detaches from slurmd; end only those of this cluster's jobs,
        # known by the slurm.conf in their environment.
        conf = f"SLURM_CONF={self.root / 'slurm.conf'}".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != "slurmstepd":
                    continue
                if conf in (proc / "environ").read_bytes().split(b"\0"):
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue

    # -- files -----------------------------------------------------------------------

    def _write_files(self) -> None:
        r = self.root
        for sub in ("log", "run", "state", "spool", "munge", "mysql", "gpu"):
            (r / sub).mkdir()
        (r / "munge").chmod(0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        for n in range(self.gpus):
            os.mknod(r / "gpu" / f"gpu{n}", 0o666 | 0o020000, os.makedev(NVIDIA_MAJOR, n))
        self.ports = {name: _free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mysql")}
        self.munge_socket = r / "munge" / "munge.sock"
        self.mysql_socket = r / "run" / "mysqld.sock"
        self.db_password = secrets.token_hex(12)
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        (r / "slurm.conf").write_text(self._slurm_conf(auth))
        (r / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName={self.node} Name=gpu File={r}/gpu/gpu[0-{self.gpus - 1}]\n"
        )
        (r / "plugstack.conf").write_text("")
        dbd = r / "slurmdbd.conf"
        dbd.write_text(
            auth + f"DbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort={self.ports['slurmdbd']}\n"
            f"SlurmUser={getpass.getuser()}\n"
            f"LogFile={r}/log/slurmdbd.log\nPidFile={r}/run/slurmdbd.pid\n"
            "StorageType=accounting_storage/mysql\n"
            f"StorageHost=127.0.0.1\nStoragePort={self.ports['mysql']}\n"
            f"StorageUser=slurm\nStoragePass={self.db_password}\nStorageLoc=slurm_acct_db\n"
        )
        dbd.chmod(0o600)  # slurmdbd refuses a config others can read: it holds the password
        self.set_job_env({})
        self.env = {
            **os.environ,
            "SLURM_CONF": str(r / "slurm.conf"),
            "PATH": os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]),
        }
        for name in ("SLURM_JOB_ID", "SLURM_JOBID"):  # a test run inside a SLURM job
            self.env.pop(name, None)

    def _slurm_conf(self, auth: str) -> str:
        r = self.root
        # At least 64 GB, whatever the machine has (config_overrides keeps the
        # node up): the profile's requests fit, and only real use is enforced.
        memory = max(_memory_mb(), 64000)
        user = getpass.getuser()
        node = (
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory}"
            f" Gres=gpu:{self.gpus} State=UNKNOWN"
        )
        return f"""\
ClusterName={CLUSTER}
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser={user}
SlurmdUser=root
{auth}CredType=cred/munge
SlurmctldPort={self.ports["slurmctld"]}
SlurmdPort={self.ports["slurmd"]}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={r}/plugstack.conf
# No systemd, no cgroups: processes tracked by parentage, tasks not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog={r}/task_prolog.sh
# Memory is enforced by sampling: a step over its --mem is killed (OUT_OF_MEMORY).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={self.ports["slurmdbd"]}
# Clients talk to slurmdbd through the munged named here, not through AuthInfo.
AccountingStoragePass={self.munge_socket}
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={self.def_mem_per_cpu}
MinJobAge={self.min_job_age}
KillWait=5
InactiveLimit=0
ReturnToService=2
SlurmdTimeout=300
# Use the node as configured here (more CPUs than the machine has, so that
# jobs overlap on a small CI machine) without draining it.
SlurmdParameters=config_overrides
GresTypes=gpu
{node}
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""

    @contextlib.contextmanager
    def job_env(self, **variables: str) -> Iterator[None]:
        """Within the block, every task the node starts gets ``variables`` exported."""
        self.set_job_env(variables)
        try:
            yield
        finally:
            self.set_job_env({})

    def set_job_env(self, variables: dict[str, str]) -> None:
        """Export ``variables`` into every task the node starts from now on (a TaskProlog)."""
        lines = ["#!/bin/sh"]
        for name, value in variables.items():
            # TaskProlog output is read line by line: "export NAME=value", no quoting.
            if "\n" in value:
                raise ValueError(f"{name}: a job variable cannot hold a newline")
            lines.append(f"echo {_shell_quote(f'export {name}={value}')}")
        prolog = self.root / "task_prolog.sh"
        prolog.write_text("\n".join(lines) + "\n")
        prolog.chmod(0o755)

    # -- daemons ---------------------------------------------------------------------

    def _start_daemon(self, name: str, args: list[str], log: Path | None = None) -> Daemon:
        log = log or self.root / "log" / f"{name}.log"
        with open(self.root / "log" / f"{name}.out", "wb") as out:
            proc = subprocess.Popen(
                [_find(args[0]) or args[0], *args[1:]],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # a Ctrl-C to the tests reaches them through stop()
            )
        daemon = Daemon(name, proc, log)
        self.daemons.append(daemon)
        return daemon

    def _expect_running(self, daemon: Daemon, ready: Callable[[], bool], what: str) -> None:
        def check() -> bool:
            if daemon.proc.poll() is not None:
                out = self.root / "log" / f"{daemon.name}.out"
                text = out.read_text(errors="replace") if out.exists() else ""
                raise ClusterError(
                    f"{daemon.name} exited with {daemon.proc.returncode}:\n{text}\n{daemon.tail()}"
                )
            return ready()

        try:
            wait_until(what, check, START_SECONDS)
        except ClusterError as exc:
            raise ClusterError(f"{exc}\n--- {daemon.name} log:\n{daemon.tail()}") from None

    def _start_munge(self) -> None:
        r = self.root / "munge"
        daemon = self._start_daemon(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",  # the run folder is under /tmp, which munged finds too open
                f"--socket={self.munge_socket}",
                f"--key-file={r / 'munge.key'}",
                f"--pid-file={r / 'munged.pid'}",
                f"--seed-file={r / 'munged.seed'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
            ],
        )
        self._expect_running(daemon, self.munge_socket.exists, "munged's socket")

    def _start_mariadb(self) -> None:
        data = self.root / "mysql"
        init = subprocess.run(
            [
                _find("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            capture_output=True,
            text=True,
            timeout=START_SECONDS,
            env=self.env,
        )
        if init.returncode:
            raise ClusterError(f"mariadb-install-db failed:\n{init.stdout}\n{init.stderr}")
        log = self.root / "log" / "mariadb.log"
        daemon = self._start_daemon(
            "mariadbd",
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.mysql_socket}",
                f"--port={self.ports['mysql']}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--user=root",
                f"--pid-file={self.root / 'run' / 'mysqld.pid'}",
                f"--log-error={log}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-lock-wait-timeout=900",  # SLURM's recommendation
            ],
            log,
        )
        self._expect_running(daemon, self._mysql_answers, "MariaDB to answer")
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_password}';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        self._mysql(sql, check=True)

    def _mysql(self, sql: str, check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [_find("mariadb"), "--no-defaults", f"--socket={self.mysql_socket}", "-uroot"],
            input=sql,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and result.returncode:
            raise ClusterError(f"MariaDB refused {sql!r}: {result.stderr}")
        return result

    def _mysql_answers(self) -> bool:
        return self.mysql_socket.exists() and self._mysql("SELECT 1;").returncode == 0

    def _start_slurmdbd(self) -> None:
        daemon = self._start_daemon("slurmdbd", ["slurmdbd", "-D"])
        self._expect_running(
            daemon,
            lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
            "slurmdbd to answer",
        )

    def _node_idle(self) -> bool:
        for daemon in self.daemons:
            if daemon.proc.poll() is not None:
                raise ClusterError(f"{daemon.name} exited:\n{daemon.tail()}")
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        return out.returncode == 0 and out.stdout.strip() == "idle"

    def _sacct_answers(self) -> bool:
        return self.run("sacct", "-n", "-X", check=False).returncode == 0

    # -- clients ---------------------------------------------------------------------

    def run(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        result = subprocess.run(
            [_find(args[0]) or args[0], *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        if check and result.returncode:
            raise ClusterError(f"{' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def sacctmgr(self, *args: str) -> None:
        self.run("sacctmgr", "-i", *args)

    def queue(self) -> list[str]:
        """Ids of the jobs the controller still has pending or running."""
        out = self.run("squeue", "-h", "-o", "%i", "-t", "PD,R,CG,S", check=False).stdout
        return out.split()

    def jobs(self) -> list[dict[str, str]]:
        """Every job accounting knows of: id, state, exit code, memory asked, folder... (sacct)."""
        fields = [
            "JobIDRaw",
            "JobName",
            "State",
            "ExitCode",
            "ReqMem",
            "AllocTRES",
            "Timelimit",
            "Comment",
            "WorkDir",
        ]
        out = self.run(
            "sacct", "-X", "-a", "-n", "--parsable2", f"--format={','.join(fields)}"
        ).stdout
        return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines()]

    def memory_killed(self, job_id: str) -> bool:
        """Whether SLURM killed the job for using more memory than it asked.

        With cgroups the job ends OUT_OF_MEMORY; with OverMemoryKill (here) the
        job FAILED and a step was cancelled with a peak above the request.
        """
        fields = ["JobID", "State", "MaxRSS", "ReqMem"]
        out = self.run(
            "sacct", "-j", job_id, "-n", "--parsable2", f"--format={','.join(fields)}"
        ).stdout
        rows = [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines()]
        if any(row["State"].startswith("OUT_OF_ME") for row in rows):
            return True
        asked = next((_megabytes(row["ReqMem"]) for row in rows if row["ReqMem"]), None)
        return asked is not None and any(
            row["State"].startswith("CANCELLED") and _megabytes(row["MaxRSS"]) > asked
            for row in rows
        )

    def logs(self) -> str:
        """The tail of every daemon's log, for a failing test's message."""
        return "\n".join(f"--- {d.name}:\n{d.tail(15)}" for d in self.daemons)

    def executor_args(self, **default_resources) -> list[str]:
        """Snakemake arguments that point the slurm executor at this cluster, quickly.

        ``default_resources`` (mem_mb=1000, say) join the partition and account.
        """
        resources = {
            "slurm_partition": self.partition,
            "slurm_account": self.account,
            **default_resources,
        }
        return [
            "--executor",
            "slurm",
            "--default-resources",
            *(f"{name}={value}" for name, value in resources.items()),
            # The plugin's first status check comes after 40 s by default and
            # then backs off by 10 s; a test wants answers in seconds.
            "--slurm-init-seconds-before-status-checks=1",
            "--seconds-between-status-checks=1",
        ]


def _megabytes(text: str) -> float:
    """sacct's memory figures ("422896K", "100M", "2G") in MiB; 0 for none."""
    text = text.strip()
    if not text:
        return 0.0
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text) / (1024 * 1024)


def write_profile(source: Path, dest: Path, cluster: SlurmCluster) -> Path:
    """A copy of the profile folder ``source`` in ``dest``, filled in for ``cluster``.

    The partition and account go into its default-resources, as a user fills
    them in, and the status checks come every second instead of after 40 s.
    (Passing --default-resources on the command line would replace the
    profile's whole list, mem_mb and runtime included.)
    """
    import yaml

    shutil.copytree(source, dest)
    path = dest / "config.yaml"
    profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    profile.setdefault("default-resources", {}).update(
        slurm_partition=cluster.partition, slurm_account=cluster.account
    )
    profile["slurm-init-seconds-before-status-checks"] = 1
    profile["seconds-between-status-checks"] = 1
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return dest


def _interrupt(signum, frame):
    # SIGTERM as Ctrl-C, so that the cluster is stopped on the way out.
    raise KeyboardInterrupt


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise ClusterError("no MemTotal in /proc/meminfo")


#: The one cluster of a test session, and how many fixture users hold it.
_SHARED: list[SlurmCluster] = []
_HOLDERS = [0]


def slurm_cluster_fixture() -> Iterator[SlurmCluster]:
    """The body of the ``slurm_cluster`` fixture: skip where it cannot run, else the cluster.

    Modules that import the fixture share one cluster (pytest makes one
    fixture per importing module); it stops after the last of them is done.
    """
    import pytest

    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    if not _SHARED:
        # A SIGTERM to pytest (a CI timeout) stops the cluster too, as Ctrl-C does.
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _interrupt)
        _SHARED.append(SlurmCluster().__enter__())
    _HOLDERS[0] += 1
    try:
        yield _SHARED[0]
    finally:
        _HOLDERS[0] -= 1
        if not _HOLDERS[0]:
            _SHARED.pop().stop()
            if signal.getsignal(signal.SIGTERM) == _interrupt:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _slurm_cluster_fixture():
    import pytest

    return pytest.fixture(scope="session", name="slurm_cluster")(slurm_cluster_fixture)


with contextlib.suppress(ImportError):  # run by hand without pytest
    slurm_cluster = _slurm_cluster_fixture()


def main(argv: list[str]) -> int:
    """``up``: start a cluster, print its environment, wait for Ctrl-C; ``check``."""
    command = argv[1] if len(argv) > 1 else "up"
    if command == "check":
        print(missing_requirements() or "ok: the SLURM test cluster can run here")
        return 0
    if command != "up":
        print("usage: python tests/slurm_cluster.py up|check", file=sys.stderr)
        return 2
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    with SlurmCluster() as cluster:
        print(f"cluster up in {time.monotonic() - started:.1f} s, folder {cluster.root}")
        print(f"export SLURM_CONF={cluster.env['SLURM_CONF']}")
        print("snakemake " + " ".join(cluster.executor_args()))
        print("Ctrl-C (or SIGTERM) stops it and removes the folder.", flush=True)
        try:
            while all(d.proc.poll() is None for d in cluster.daemons):
                time.sleep(1)
            print("a daemon exited:\n" + cluster.logs(), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

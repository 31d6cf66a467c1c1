"""A cluster's requeue: the signal a scheduler sends shortly before a job's time limit (SLURM's
`--signal=USR1@90`), after which the run saves, asks SLURM to queue the job again, and exits; the
requeued job runs the same command line, which `--resume auto` continues."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping

# Signals a scheduler may be told to send; KILL and STOP cannot be caught.
REQUEUE_SIGNALS = {
    name: getattr(signal, f"SIG{name}")
    for name in ("USR1", "USR2", "TERM", "HUP", "INT", "ALRM", "XCPU")
    if hasattr(signal, f"SIG{name}")
}
DEFAULT_REQUEUE_SIGNAL = "USR1"
SCONTROL_TIMEOUT_S = 60


def requeue_exit_code(signal_number: int) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended (USR1: 138)."""
    return 128 + signal_number


def slurm_job_id(environment: Mapping[str, str]) -> str | None:
    """The id `scontrol requeue` takes: an array task's is `<array job>_<task>`."""
    array_job, task = environment.get("SLURM_ARRAY_JOB_ID"), environment.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return environment.get("SLURM_JOB_ID") or None


def requeue_job(say: Callable[[str], None], environment: Mapping[str, str] = os.environ) -> bool:
    """Ask SLURM to queue this job again; whether it did. A failure is one line: the checkpoint,
    saved before, stands, and the same command line started by hand resumes it."""
    job = slurm_job_id(environment)
    if job is None:
        say("SLURM_JOB_ID is not set: not requeued (start the same command again to resume)")
        return False
    command = ["scontrol", "requeue", job]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=SCONTROL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        reason = getattr(error, "strerror", None) or str(error)
        say(f"{' '.join(command)} failed ({reason}); the checkpoint stands")
        return False
    if done.returncode != 0:
        words = " ".join((done.stderr or done.stdout or f"exit code {done.returncode}").split())
        say(f"{' '.join(command)} failed ({words}); the checkpoint stands")
        return False
    say(f"requeued SLURM job {job}")
    return True

"""Owning an output: path checks before any work, an exclusive lock, stale temporaries.

Every command that writes files (``steady``, ``evolve``, ``rate``, ``gap``, ``semiclassical``
with ``--out``; ``evolve --save-state`` and its checkpoints; ``sweep``; ``merge``) goes through
:func:`claim_outputs` on world rank 0 before it computes anything:

* each output path is checked: its directory exists and is writable, it is not a directory,
  it is not one of the run's inputs (the configuration, an initial-state or initial-guess file,
  merge inputs), and it does not exist unless the command was given ``--overwrite`` (sweep and
  merge keep their own rules for an existing file: ``--resume``/``--overwrite``, see
  :mod:`pjcsync.sweep`);
* an advisory exclusive lock (``flock``) is taken on ``OUT.lock`` beside each output and held
  until the process ends.  The lock of a sweep's ``OUT`` also covers its ``OUT.parts/``
  directory.  A second run on the same output is refused at once with one line (exit status 2);
  the lock dies with its process (a killed run leaves an unlocked ``OUT.lock``, which the next
  run takes over and removes);
* temporaries ``OUT.tmp-<pid>[...]`` of the same output left by a killed run (their process is
  gone) are removed.

The lock is advisory: it protects pjcsync runs from each other on one file system that
supports ``flock`` (local disks, and most cluster file systems: Lustre with ``flock``, GPFS,
NFSv4).
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
from pathlib import Path

from .parallel import InputError

_TMP_RE = re.compile(r"\.tmp-(\d+)(?:\..*)?$")


class OutputLock:
    """An exclusive ``flock`` on ``PATH.lock``; ``release()`` removes the lock file."""

    def __init__(self, path: str | Path):
        self.target = Path(path)
        self.path = Path(f"{path}.lock")
        self.fd = None

    def acquire(self) -> "OutputLock":
        for _ in range(20):          # the holder may remove the file between our open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    who = f" (pid {holder})" if holder else ""
                    raise InputError(f"{str(self.target)!r} is being written by another pjcsync run{who}: "
                                     f"wait for it to finish, or choose another output "
                                     f"(lock {str(self.path)!r})") from None
                raise InputError(f"cannot lock {str(self.path)!r}: {exc.strerror}") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)             # we locked a file that was just removed: try again
        raise InputError(f"cannot lock {str(self.path)!r}: it keeps changing")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)     # while still holding the lock
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text.isdigit() else None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove ``PATH.tmp-<pid>...`` files whose process is gone; returns those removed."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    removed = []
    try:
        entries = list(parent.glob(f"{_glob_escape(path.name)}.tmp-*"))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.search(entry.name[len(path.name):])
        if not m or not entry.name.startswith(path.name + ".tmp-"):
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and not pid_alive(pid):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path, inputs: list, overwrite: bool | None, what: str = "--out") -> Path:
    """One output path, before any work (see the module docstring).  ``overwrite=None``: an
    existing file is the caller's business (sweep, merge)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} {str(p)!r} is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what} {str(p)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {str(p)!r}: directory {str(parent)!r} is not writable")
    for name, src in inputs:
        if src and (_same_file(p, Path(src)) or p.resolve() == Path(src).resolve()):
            raise InputError(f"{what} {str(p)!r} is this run's {name}: it would be overwritten; "
                             f"choose another output name")
    if overwrite is False and p.exists():
        raise InputError(f"{what} {str(p)!r} exists: use --overwrite to replace it, or choose another name")
    return p


def space_shortfall(path: str | Path, nbytes: float) -> str | None:
    """None if the file system of ``path`` has room for ``nbytes`` more (plus 1 % and 64 KB for
    HDF5's metadata), else one line saying how much is needed and how much is free.  Checked before a
    large dataset (rho) is written: HDF5 1.10 can crash on a write that fills the disk."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        st = os.statvfs(parent)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    need = 1.01 * float(nbytes) + 2 ** 16
    if free >= need:
        return None
    from .memory import fmt_bytes
    return (f"not enough disk space for {str(p)!r}: it needs {fmt_bytes(need)}, the file system of "
            f"{str(parent)!r} has {fmt_bytes(free)} free")


def claim_outputs(outputs: list[tuple[str, str | Path, bool | None]], inputs: list) -> list[OutputLock]:
    """Check every output ``(what, path, overwrite)``, then lock each and remove its stale
    temporaries.  Returns the locks (released by :func:`release`, or when the process ends)."""
    for what, path, overwrite in outputs:
        check_output(path, inputs, overwrite, what)
    locks = []
    try:
        for what, path, overwrite in outputs:
            locks.append(OutputLock(path).acquire())
            remove_stale_temporaries(path)
    except BaseException:
        release(locks)
        raise
    return locks


def release(locks: list[OutputLock]) -> None:
    for lock in locks:
        lock.release()

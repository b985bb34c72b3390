"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from listener.errors import UnwritablePath

if TYPE_CHECKING:
    from listener.config import Settings

TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"  # a temp file is ".NAME.<random>.tmp" beside NAME


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, and the setting is the whole
# process's, so reading it per write would briefly give other threads' new files mode 0666.
_UMASK = _umask()


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsync it, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What tells that a file changed: its inode (``write_atomic`` makes a new one), mtime and size;
    ``None`` when it cannot be read."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size) if st else None


def remove_stale_temp_files(folder: Path, older_than: float = 60.0) -> list[Path]:
    """Delete temp files ``write_atomic`` left behind when a process was killed mid-write."""
    removed = []
    if not folder.is_dir():
        return removed
    limit = time.time() - older_than
    for p in folder.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def check_writable(path: str | os.PathLike, *, key: str, directory: bool = False) -> Path:
    """Make sure the process can write ``path`` (a file, or a folder with ``directory``), creating
    missing parent folders; else ``UnwritablePath`` naming the settings ``key`` and the path.

    Called at start-up, so a wrong path is one line for the user, not a traceback mid-run."""
    path = Path(path)
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not directory and path.exists():
            with open(path, "ab"):
                pass
        else:
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
            os.close(fd)
            os.unlink(tmp)
    except (FileExistsError, NotADirectoryError):  # a file where a folder should be
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise UnwritablePath(f"{key}: cannot write {path}: {blocker} is not a folder") from None
    except OSError as exc:
        raise UnwritablePath(f"{key}: cannot write {path}: {exc.strerror or exc}") from None
    return path


# the settings keys that name a path the process writes: (path in the settings, is it a folder)
WRITTEN_PATHS: dict[str, tuple[Callable[["Settings"], "Path | None"], bool]] = {
    "store.path": (lambda s: s.db_path, False),
    "digest.output_dir": (lambda s: s.digest.output_dir, True),
    "schedule.log_file": (lambda s: s.schedule.log_file, False),
}


def check_paths(settings: "Settings", *keys: str) -> None:
    """``check_writable`` for each named key of ``WRITTEN_PATHS`` that is set; shells call this at start-up."""
    for key in keys:
        get, directory = WRITTEN_PATHS[key]
        path = get(settings)
        if path is not None:
            check_writable(path, key=key, directory=directory)

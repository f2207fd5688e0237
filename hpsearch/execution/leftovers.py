"""What a killed search leaves in shared memory: loky's semaphores and joblib's memory-mapping folders.

loky and joblib remove them when the search ends normally, through their resource tracker; a ``kill -9``
of the search (and the watcher then killing its tracker) leaves them for good: ``/dev/shm/sem.loky-<pid>-<random>``
and ``joblib_memmapping_folder_<pid>_<id>_<id>`` in /dev/shm or the temp folder, where ``<pid>`` is the
process that made them. Each is removed once that process is gone, never before, and nothing else is
touched: only those two name patterns, only entries of this user, never through a symlink.

Only the standard library: ``orphans``' bare watcher runs this file after the search's death
(``runpy.run_path``), so it must load without hpsearch, numpy or site-packages.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile

#: Where loky and joblib put them (joblib: ``JOBLIB_TEMP_FOLDER``, else /dev/shm, else the temp folder).
SHARED_MEMORY = "/dev/shm"
_SEMAPHORE = re.compile(r"sem\.loky-(\d+)-[A-Za-z0-9_]+")
_MEMMAP_FOLDER = re.compile(r"joblib_memmapping_folder_(\d+)_[0-9a-f]+_[0-9a-f]+")


def _folders() -> list[str]:
    folders = [SHARED_MEMORY, os.environ.get("JOBLIB_TEMP_FOLDER") or "", tempfile.gettempdir()]
    return [f for f in dict.fromkeys(folders) if f and os.path.isdir(f)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): alive
        return True
    return True


def remove_leftovers(alive=_alive) -> list[str]:
    """Remove every loky semaphore and joblib memory-mapping folder of this user whose maker process is not
    ``alive``; return the paths removed. Errors (a file another process removes first) are skipped."""
    removed = []
    for folder in _folders():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            pattern = _SEMAPHORE if name.startswith("sem.") else _MEMMAP_FOLDER
            match = pattern.fullmatch(name)
            if match is None or alive(int(match.group(1))):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if info.st_uid != os.getuid():
                    continue
                if pattern is _SEMAPHORE and stat.S_ISREG(info.st_mode):
                    os.unlink(path)
                elif pattern is _MEMMAP_FOLDER and stat.S_ISDIR(info.st_mode):  # lstat: a link is no folder
                    shutil.rmtree(path)
                else:
                    continue
            except OSError:
                continue
            removed.append(path)
    return removed


if __name__ == "__main__":  # run by the watcher after the search's death (see orphans._WATCHER)
    remove_leftovers()

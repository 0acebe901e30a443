"""A job's work folder beside its output: an exclusive lock, a manifest of finished chunks and their carried
states, and the identity (inputs' contents and settings) that decides whether earlier work still applies."""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass, field

from .errors import UserError

LOCK = "lock"
SAMPLE = 16 << 20  # bytes hashed at each end of a large file


def fingerprint(path: str) -> str:
    """A digest of a file's contents: whole when small, else its size and its first and last 16 MiB."""
    h = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        h.update(str(size).encode())
        with open(path, "rb") as f:
            h.update(f.read(SAMPLE))
            if size > 2 * SAMPLE:
                f.seek(-SAMPLE, os.SEEK_END)
            h.update(f.read(SAMPLE))
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    return h.hexdigest()


def identity(files: list[str], settings: str) -> str:
    """The job's identity: the contents of every file its result depends on, and its settings."""
    text = "|".join(fingerprint(p) for p in files if p) + "|" + settings
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Manifest:
    """What a job's work folder holds (manifest.json): decided once, then kept for every resume."""

    identity: str  # the job's inputs and settings (see identity()): other ones make the folder start afresh
    done: list[str] = field(default_factory=list)  # finished chunks, in the order they finished
    settings: str = ""  # the settings as TOML, for the person looking at the folder
    cuts: list[int] | None = None  # scene cuts (job-relative first frames of shots); None: not scanned yet
    count: int = 0  # frames actually there
    fades: list = field(default_factory=list)  # [frame, share of the picture shown] in fades (lanes.fade_shares)
    bars: list = field(default_factory=list)  # [shot's first frame, its 8 shot_bars] (lanes.shot_bars)
    decode_errors: int = 0  # error lines from the decoder during the scan
    lanes: int = 0  # lanes of the plan (0: not decided yet)
    threads: int = 0  # CPU threads of the first run, which every resume uses (0: not decided, or not on CPU)


class WorkDir:
    """The locked, resumable state of one job. Another process on the same output is refused in one line."""

    def __init__(self, path: str, identity: str, output: str):
        self.path, self.lock = path, threading.Lock()
        try:
            os.makedirs(path, exist_ok=True)
            self._fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(f"cannot create the work folder {path}: {e.strerror or e}; choose an output in a "
                            f"folder you can write to") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise UserError(f"another dreamvideo run is writing {output}: wait for it to finish, or choose "
                            f"another output") from None
        self.manifest = self._load()
        if self.manifest is None or self.manifest.identity != identity:
            self.clear()  # other inputs or settings: that work does not apply
            self.manifest = Manifest(identity)
        self.save()

    def _load(self) -> Manifest | None:
        try:
            with open(self.file("manifest.json")) as f:
                return Manifest(**json.load(f))
        except (OSError, ValueError, TypeError):  # none, unreadable, or of another version
            return None

    def clear(self) -> None:
        """Remove everything but the lock."""
        for name in os.listdir(self.path):
            if name != LOCK:
                full = self.file(name)
                shutil.rmtree(full, ignore_errors=True) if os.path.isdir(full) else os.remove(full)

    def save(self) -> None:
        with self.lock:
            tmp = self.file("manifest.json.tmp")
            with open(tmp, "w") as f:
                json.dump(dataclasses.asdict(self.manifest), f, indent=1)
            os.replace(tmp, self.file("manifest.json"))

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def has_work(self) -> bool:
        """Whether finished chunks would make a rerun faster."""
        return bool(self.manifest.done)

    def close(self, remove: bool) -> None:
        """Release the lock; `remove`: delete the folder first (job done, or nothing worth keeping)."""
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)

"""The files a run keeps in its folder, written so that no fault leaves a run unrecoverable and no
stranger's folder is ever resumed.

- Every file of ours is written atomically (temporary file, fsync, rename, fsync of the folder):
  a full disk or a killed driver leaves the old version or the new one, never half of one.
- `tsadbench_run.json` signs the run's command with a per-account key (HMAC-SHA256, key in
  `~/.config/tsadbench/run-signing.key`, or `$TSADBENCH_KEY_FILE`). `--resume` refuses a folder
  without a valid signature: restoring a run unpickles Ray's own state files (`tuner.pkl`,
  `searcher-state-*.pkl`), so only folders this account created may be restored.
- Ray writes its experiment state (`experiment_state-*.json` and the searcher's files beside it)
  in place. `back_up_ray_state` keeps the newest intact set in `.tsadbench_state/` (a folder
  renamed into place whole, not fsynced, like Ray's own files), and `repair_ray_state` puts it
  back when a full disk or a kill left the live set damaged.
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import pickletools
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

COMMAND_FILE = "tsadbench_command.json"
MANIFEST_FILE = "tsadbench_run.json"
KEY_FILE = Path("~/.config/tsadbench/run-signing.key")
STATE_BACKUP_DIR = ".tsadbench_state"
STAMP_FILE = "stamp.json"
MIN_FREE_BYTES = 1 << 20
RAY_STATE_PATTERNS = ("experiment_state-*.json", "search_gen_state-*.json", "searcher-state-*.pkl",
                      "basic-variant-state-*.json", "tuner.pkl")


class RunFolderError(ValueError):
    """A run folder that cannot be resumed as it is; the message says why and what to do."""


class StorageFullError(OSError):
    """The storage ran out of space; the run stopped cleanly and resumes once space is back."""

    def __init__(self, where: str):
        super().__init__(errno.ENOSPC, f"no space left on the device of {where}")
        self.where = where


def nearly_full(path: Path) -> bool:
    """Whether the file system of `path` has less than MIN_FREE_BYTES left: after Ray's own
    files were cut short by a full disk, its errors (EOFError, JSONDecodeError) no longer say so."""
    try:
        return shutil.disk_usage(path).free < MIN_FREE_BYTES
    except OSError:
        return False


def is_storage_full(error: BaseException | None) -> bool:
    """Whether `error`, a Ray trial error wrapping it, or anything in its chain is ENOSPC."""
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(error) or "[Errno 28]" in str(error):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` all at once: write a temporary file beside it, fsync, rename,
    fsync the folder. On any error the old file (if any) is untouched and no temporary is left."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_json(path: Path, value: Any) -> None:
    """`atomic_write_text` of `value` as indented JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, default=str))


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _key_file() -> Path:
    return Path(os.environ.get("TSADBENCH_KEY_FILE") or KEY_FILE).expanduser()


def _signing_key() -> bytes:
    """This account's signing key, created (mode 0600) on first use."""
    path = _key_file()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(32))
    return path.read_bytes()


def _signature(command: list[str]) -> str:
    payload = json.dumps(command, separators=(",", ":")).encode()
    return hmac.new(_signing_key(), payload, hashlib.sha256).hexdigest()


def write_run_files(folder: Path, command: list[str]) -> None:
    """Create the run folder with its command and the signed manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / COMMAND_FILE, command)
    atomic_write_json(folder / MANIFEST_FILE, {"format": 1, "signature": _signature(command),
                                               "command_sha256": hashlib.sha256(json.dumps(command).encode()).hexdigest()})


def read_run_command(folder: Path, trust: bool = False) -> list[str]:
    """The command a run was started with, once its signature proves this account created it.
    `trust=True` (the user vouches for the folder) signs it first."""
    saved = folder / COMMAND_FILE
    if not saved.is_file():
        raise RunFolderError(f"{folder} holds no {COMMAND_FILE}: it is not a run to resume")
    try:
        command = json.loads(saved.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{saved} is damaged ({error}): start a new run") from None
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        raise RunFolderError(f"{saved} is not a list of arguments: start a new run")
    if trust:
        write_run_files(folder, command)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        signature = manifest["signature"]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        signature = ""
    if not hmac.compare_digest(str(signature), _signature(command)):
        raise RunFolderError(
            f"{folder} carries no valid signature of this account ({MANIFEST_FILE}): resuming restores Ray's "
            f"pickled state from it, which runs code. Resume only runs you started; if you trust this folder "
            f"(e.g. your own run from another machine, or one from before signatures), add --trust-run, "
            f"or copy {_key_file()} from the machine that started it")
    return command


def _ray_state_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in RAY_STATE_PATTERNS for p in folder.glob(pattern) if p.is_file())


def _intact(path: Path) -> bool:
    """Whether a Ray state file is complete: a pickle (Ray names some of them .json) whose
    opcodes run to STOP, read with pickletools, which executes nothing; else JSON that parses."""
    try:
        data = path.read_bytes()
        if data[:1] == b"\x80":
            return any(op.name == "STOP" for op, _, _ in pickletools.genops(data))
        json.loads(data)
        return True
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def back_up_ray_state(folder: Path) -> bool:
    """Copy Ray's state files to `.tsadbench_state/` if every one of them is intact; returns
    whether a new backup was made (an unchanged or damaged set is left as it is).

    Called after every controller step, so an unchanged set costs only a `stat` per file (sizes
    and modification times against the backup's stamp). It is the copies that are checked: Ray
    uploads its state files in a background thread, which may be rewriting one while it is copied.
    The copy is renamed into place whole but not fsynced: it guards against a killed driver and a
    full disk, the faults Ray's own state files (written without fsync) can suffer; after a power
    loss neither is durable."""
    files = _ray_state_files(folder)
    if not files:
        return False
    backup = folder / STATE_BACKUP_DIR
    stamp = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
    if _read_stamp(backup) == stamp:
        return False
    staging = Path(tempfile.mkdtemp(prefix=".tsadbench_state.", dir=folder))
    try:
        for path in files:
            shutil.copy2(path, staging / path.name)
        if not all(_intact(staging / path.name) for path in files):
            shutil.rmtree(staging, ignore_errors=True)
            return False
        (staging / STAMP_FILE).write_text(json.dumps(stamp))
        old = folder / f"{STATE_BACKUP_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if backup.exists():
            os.replace(backup, old)
        os.replace(staging, backup)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _read_stamp(backup: Path) -> dict[str, Any] | None:
    """The sizes and times of the set last backed up, None where there is no intact stamp."""
    try:
        return json.loads((backup / STAMP_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def repair_ray_state(folder: Path) -> list[str]:
    """Put back the last intact set of Ray's state files when any live one is damaged (a full disk
    or a kill mid-write); returns the names restored. The set is replaced whole, so Ray never
    reads an experiment state and a searcher state of different moments."""
    live = _ray_state_files(folder)
    damaged = [p for p in live if not _intact(p)]
    if not damaged:
        return []
    backup = folder / STATE_BACKUP_DIR
    saved = {p.name: p for p in backup.glob("*") if p.name != STAMP_FILE} if backup.is_dir() else {}
    if not saved:
        raise RunFolderError(f"Ray's state in {folder} is damaged ({', '.join(p.name for p in damaged)}) and no "
                             f"intact copy was kept: move {folder} aside and run that experiment again")
    for path in live:
        if path.name not in saved:
            path.unlink()
    for name, source in saved.items():
        shutil.copy2(source, folder / f".{name}.restoring")
        os.replace(folder / f".{name}.restoring", folder / name)
    return sorted(saved)

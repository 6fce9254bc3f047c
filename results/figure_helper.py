"""A second process that draws figures beside the one writing the report.

This module imports nothing heavy itself, so that a driver can start the helper before it needs
matplotlib; the helper process imports the plotting stack when it starts.

Drawing is most of a report's time (matplotlib, one core: about 6 of 6.5 s for `make smoke`'s 20
figures, PNG and PDF each), and the driver draws after the grid, when its cores are free. The
helper is started early, `python -m tsadbench.results.figure_helper`: it imports matplotlib and
the results package while the driver still waits on Ray (about 1.3 CPU-s that would otherwise
come after the grid), then waits on its stdin. `FigureDrawing` sends it the grid folder; the
helper reads the same records, and then the two processes take the figure jobs one at a time from
one list until none is left (one JSON line per job each way). A job the helper failed to draw is
drawn by the caller, which then raises what the job raises; a helper that cannot start or dies
leaves every job to the caller. The helper exits when its stdin closes (the caller's `close`, or
the caller's death); it ignores Ctrl-C, which is the caller's to handle.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .plots import Drawn, FigureJob

CLOSE_WAIT_S = 5.0


class FigureHelper:
    """The caller's side: a started helper process and the exchange with it."""

    def __init__(self, process: subprocess.Popen):
        self._process = process
        self._alive = True
        self.jobs_drawn = 0

    @classmethod
    def start(cls) -> "FigureHelper | None":
        """A helper, or None on a single core (nothing to gain) or when it cannot be started."""
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if usable < 2:
            return None
        try:
            process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1)
        except OSError:
            return None
        return cls(process)

    def _ask(self, message: dict) -> dict | None:
        """Send one line, read the reply; None (and no further use) once the helper is gone."""
        if not self._alive:
            return None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except (OSError, ValueError):
            line = ""
        if not line:
            self._alive = False
            return None
        return json.loads(line)

    def open(self, grid_dir: Path, out: Path, jobs: "list[FigureJob]") -> bool:
        """Have the helper read `grid_dir`; True when it found the same figure jobs."""
        reply = self._ask({"grid_dir": str(grid_dir), "out": str(out)})
        if reply is None or [tuple(job) for job in reply.get("jobs", [])] != jobs:
            self._alive = False
            return False
        return True

    def draw_all(self, indices: Iterator[int], drawn: "list[Drawn | None]") -> None:
        """Have the helper draw jobs from `indices` until none is left, into `drawn`; stop taking
        jobs at its first failure (the caller draws what is left None)."""
        from .plots import WrittenFigure

        for index in indices:
            reply = self._ask({"job": index})
            if reply is None or "error" in reply:
                return
            drawn[index] = ([WrittenFigure(**{**figure, "png": Path(figure["png"]), "pdf": Path(figure["pdf"])})
                             for figure in reply["figures"]], reply["skipped"])
            self.jobs_drawn += 1

    def __enter__(self) -> "FigureHelper":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the helper (it exits when its stdin closes)."""
        self._alive = False
        try:
            self._process.stdin.close()
        except OSError:
            pass
        try:
            self._process.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()


def _reply(channel: IO[str], message: dict) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def serve(requests: IO[str], channel: IO[str]) -> None:
    """The helper's loop: a grid folder, then one figure job per line, until `requests` ends."""
    from .plots import draw_job, figure_jobs
    from .records import read_grid
    from .select import select
    from .tables import row_labels

    header = requests.readline()
    if not header:
        return
    request = json.loads(header)
    selections = select(*read_grid(Path(request["grid_dir"])))
    labels, _ = row_labels(selections)
    jobs = figure_jobs(selections)
    _reply(channel, {"jobs": jobs})
    for line in requests:
        try:
            figures, skipped = draw_job(jobs[json.loads(line)["job"]], selections, labels, Path(request["out"]))
        except Exception as error:  # the caller draws this job again and raises it there
            _reply(channel, {"error": f"{type(error).__name__}: {error}"})
            continue
        _reply(channel, {"figures": [{"group": f.group, "title": f.title, "caption": f.caption,
                                      "png": str(f.png), "pdf": str(f.pdf)} for f in figures],
                         "skipped": skipped})


def main() -> int:
    """Serve on stdin/stdout; anything else printed goes to stderr, so the replies stay whole."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import plots, records, select, tables  # noqa: F401  (the plotting stack, before the first request)

    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, channel)
    return 0


if __name__ == "__main__":
    sys.exit(main())

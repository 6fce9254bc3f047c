"""Writers of small datasets in the exact raw layouts the readers accept (for the tests)."""
from __future__ import annotations

import csv
import datetime
from pathlib import Path

import numpy as np

SWAT_TAGS = ["FIT101", "LIT101", "MV101", "P101"]
WADI_TAGS = ["1_AIT_001_PV", "1_FIT_001_PV", "2_LS_001_AL", "1_P_001_STATUS"]
WADI_OPC = "\\\\WIN-25J4RO10SBF\\LOG_DATA\\SUTD_WADI\\LOG_DATA\\"


def values(rows: int, channels: int, seed: int) -> np.ndarray:
    """Deterministic float64 values that survive a text round trip exactly."""
    return np.round(np.random.default_rng(seed).uniform(0, 1, size=(rows, channels)), 6)


def labels_from(rows: int, ranges: list[tuple[int, int]]) -> np.ndarray:
    """0/1 labels with the inclusive [start, end] ranges set."""
    labels = np.zeros(rows, dtype=np.uint8)
    for start, end in ranges:
        labels[start:end + 1] = 1
    return labels


def _number(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write `lines` joined by newlines (with a final newline), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_smd(folder: Path, machines: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
              interpretation: dict[str, list[str]] | None = None) -> Path:
    """OmniAnomaly's ServerMachineDataset/{train,test,test_label,interpretation_label}/<m>.txt."""
    base = folder / "ServerMachineDataset"
    for machine, (train, test, labels) in machines.items():
        write_lines(base / "train" / f"{machine}.txt", [",".join(map(_number, row)) for row in train])
        write_lines(base / "test" / f"{machine}.txt", [",".join(map(_number, row)) for row in test])
        write_lines(base / "test_label" / f"{machine}.txt", [str(int(v)) for v in labels])
    for machine, lines in (interpretation or {}).items():
        write_lines(base / "interpretation_label" / f"{machine}.txt", lines)
    return base


def write_telemanom(folder: Path, channels: list[tuple[str, str, np.ndarray, np.ndarray, list[list[int]]]]
                    ) -> Path:
    """telemanom's data/{train,test}/<chan>.npy and data/labeled_anomalies.csv (csv order kept)."""
    base = folder / "data"
    (base / "train").mkdir(parents=True, exist_ok=True)
    (base / "test").mkdir(parents=True, exist_ok=True)
    with open(base / "labeled_anomalies.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["chan_id", "spacecraft", "anomaly_sequences", "class", "num_values"])
        for chan_id, spacecraft, train, test, sequences in channels:
            np.save(base / "train" / f"{chan_id}.npy", train)
            np.save(base / "test" / f"{chan_id}.npy", test)
            kinds = "[" + ", ".join("point" for _ in sequences) + "]"
            writer.writerow([chan_id, spacecraft, str(sequences), kinds, test.shape[0]])
    return base


def write_psm(folder: Path, train: np.ndarray, test: np.ndarray, labels: np.ndarray,
              test_start: int = 1000) -> Path:
    """eBay's train.csv, test.csv, test_label.csv with the timestamp_(min) column; NaN -> empty."""
    header = "timestamp_(min)," + ",".join(f"feature_{i}" for i in range(train.shape[1]))
    write_lines(folder / "train.csv", [header] + [f"{t}," + ",".join(map(_number, row))
                                               for t, row in enumerate(train)])
    write_lines(folder / "test.csv", [header] + [f"{test_start + t}," + ",".join(map(_number, row))
                                              for t, row in enumerate(test)])
    write_lines(folder / "test_label.csv", ["timestamp_(min),label"] + [
        f"{test_start + t},{int(v)}" for t, v in enumerate(labels)])
    return folder


def swat_time(start: datetime.datetime, second: int) -> str:
    """iTrust's ' 22/12/2015 4:30:00 PM' (leading space, day first, 12-hour clock)."""
    stamp = start + datetime.timedelta(seconds=second)
    return f" {stamp.day}/{stamp.month}/{stamp.year} {stamp.hour % 12 or 12}:{stamp:%M:%S %p}"


def write_swat_csv(path: Path, data: np.ndarray, labels: list[str], start: datetime.datetime) -> Path:
    """A SWaT Dec 2015 CSV export: title row, ' Timestamp', tags (some with leading spaces),
    'Normal/Attack'."""
    header = " Timestamp,FIT101, LIT101, MV101,P101,Normal/Attack"
    lines = [",,,,,", header] + [
        swat_time(start, t) + "," + ",".join(map(_number, row)) + f",{label}"
        for t, (row, label) in enumerate(zip(data, labels))]
    return write_lines(path, lines)


def wadi_a2_lines(data: np.ndarray, labels: np.ndarray | None, first_row: int = 1) -> list[str]:
    """WADI A2 rows: 'Row ,Date ,Time ,<tags>[,Attack LABLE ...]' after a spurious first line,
    with two footer lines."""
    label_header = [] if labels is None else ['"Attack LABLE (1:No Attack, -1:Attack)"']
    header = ",".join(["Row ", "Date ", "Time ", *WADI_TAGS, *label_header])
    rows = []
    for t, row in enumerate(data):
        cells = [str(first_row + t), "10/9/2017", f"6:{t // 60:02d}:{t % 60:02d}.000 PM",
                 *map(_number, row)]
        if labels is not None:
            cells.append("-1" if labels[t] else "1")
        rows.append(",".join(cells))
    return [",".join([""] * (len(WADI_TAGS) + 3 + len(label_header))), header, *rows, "", "Notes:,see", "end"]


def write_wadi_a1(folder: Path, train: np.ndarray, test: np.ndarray, windows: list[str]) -> Path:
    """WADI A1: WADI_14days.csv (4-line preamble, OPC tag paths), WADI_attackdata.csv (header on
    line 1, no labels), WADI_attacklabels.csv (TranAD's attack table)."""
    header = ",".join(["Row", "Date", "Time", *(WADI_OPC + tag for tag in WADI_TAGS)])

    def rows(data: np.ndarray, start: datetime.datetime) -> list[str]:
        out = []
        for t, row in enumerate(data):
            stamp = start + datetime.timedelta(seconds=t)
            out.append(",".join([str(t + 1), f"{stamp.month}/{stamp.day}/{stamp.year}",
                                 f"{stamp.hour % 12 or 12}:{stamp:%M:%S}.000 {stamp:%p}",
                                 *map(_number, row)]))
        return out

    write_lines(folder / "WADI_14days.csv", ["Data historian export", "Start 25/09/2017",
                                             "Interval 1 s", "", header,
                                             *rows(train, datetime.datetime(2017, 9, 25, 18))])
    write_lines(folder / "WADI_attackdata.csv", [header, *rows(test, datetime.datetime(2017, 10, 9, 18))])
    write_lines(folder / "WADI_attacklabels.csv", ["Id,Date,Start Time,End Time,Affected", *windows])
    return folder


def write_preprocessed(folder: Path, name: str, train: np.ndarray, test: np.ndarray,
                       labels: np.ndarray) -> Path:
    """Anomaly-Transformer-style <NAME>_train.npy, <NAME>_test.npy, <NAME>_test_label.npy."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}_train.npy", train)
    np.save(folder / f"{name}_test.npy", test)
    np.save(folder / f"{name}_test_label.npy", labels)
    return folder

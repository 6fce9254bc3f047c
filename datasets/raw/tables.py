"""Delimited text and spreadsheet tables, read with errors that name the file, line and column."""
from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..canonical import DatasetFormatError

HeaderTest = Callable[[list[str]], bool]
"""Given the stripped cells of a line, says whether it is the header line."""

HEADER_SEARCH_LINES = 10
OPENPYXL_PIN = "openpyxl==3.1.5"


@dataclasses.dataclass
class Table:
    """A parsed table and the way back from a data row to the line of the file it came from."""

    path: Path
    frame: pd.DataFrame
    row_line: Callable[[int], int]
    unit: str
    named_columns: bool

    def where(self, row: int, column: int | None = None) -> str:
        """'line 12, column 3 ('P101')': the place of a data row (and cell) in the file."""
        text = f"{self.unit} {self.row_line(row)}"
        if column is not None:
            text += f", column {column + 1}"
            if self.named_columns:
                text += f" ({self.frame.columns[column]!r})"
        return text

    def numbers(self, columns: list[str] | None = None, decimal_comma: bool = False) -> np.ndarray:
        """The given columns (default: all) as float32 [rows, columns]; empty cells become NaN.

        Raises DatasetFormatError naming the line and column of the first non-numeric cell.
        """
        names = list(self.frame.columns) if columns is None else columns
        out = np.empty((len(self.frame), len(names)), dtype=np.float32)
        for j, name in enumerate(names):
            out[:, j] = self._column_numbers(name, decimal_comma)
        return out

    def _column_numbers(self, name: str, decimal_comma: bool) -> np.ndarray:
        column = self.frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        text = column.astype("string").str.strip()
        if decimal_comma:
            text = text.str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero((values.isna() & text.notna() & (text != "")).to_numpy())
        if bad.size:
            row = int(bad[0])
            raise DatasetFormatError(
                f"{self.path}: {self.where(row, self.frame.columns.get_loc(name))}: "
                f"{column.iloc[row]!r} is not a number ({bad.size} such cells in that column); "
                "correct the cell, or empty it to mark a missing value"
            )
        return values.to_numpy(dtype=np.float64, na_value=np.nan)


def read_table(path: Path, header: HeaderTest | None = None, sep: str = ",",
               short_tail: bool = False) -> Table:
    """Read a .csv/.txt (or, with a header test, an .xlsx) file into a Table.

    `header` finds the header line among the first lines (title rows above it are skipped);
    without it the file has no header and every line is data. `short_tail` tolerates lines
    with fewer fields at the very end (footers), which come back as rows padded with NaN.
    """
    if path.suffix.lower() == ".xlsx":
        if header is None:
            raise ValueError(f"{path}: a spreadsheet needs a header test")
        return _read_xlsx(path, header)
    return _read_csv(path, header, sep, short_tail)


def sniff_separator(path: Path, header: HeaderTest) -> str:
    """The separator (',', ';' or tab) with which a header line of `path` is found."""
    if path.suffix.lower() == ".xlsx":
        return ","
    for sep in (",", ";", "\t"):
        try:
            find_header_line(path, header, sep)
        except DatasetFormatError:
            continue
        return sep
    return ","


def find_header_line(path: Path, header: HeaderTest, sep: str = ",") -> int:
    """0-based index of the header line among the first HEADER_SEARCH_LINES lines of `path`."""
    for index, line in enumerate(_lines(path)):
        if index >= HEADER_SEARCH_LINES:
            break
        if header(_cells(line, sep)):
            return index
    raise DatasetFormatError(
        f"{path}: no header line found in the first {HEADER_SEARCH_LINES} lines; "
        "is this the right file (see the format notes of this dataset)?"
    )


def _read_csv(path: Path, header: HeaderTest | None, sep: str, short_tail: bool) -> Table:
    header_index = None if header is None else find_header_line(path, header, sep)
    first_data = 0 if header_index is None else header_index + 1
    rows = _check_rectangular(path, sep, header_index, short_tail)
    frame = pd.read_csv(
        path, sep=sep, header=None if header_index is None else 0, skiprows=header_index or 0,
        low_memory=False, encoding="utf-8-sig", encoding_errors="replace", skip_blank_lines=True,
    )
    if len(frame) != rows:
        raise DatasetFormatError(f"{path}: read {len(frame)} rows where {rows} lines hold data; "
                                 "check the file for stray quote characters")
    if header_index is not None:
        frame.columns = [str(name).strip() for name in frame.columns]
    return Table(path, frame, lambda row: _line_of_row(path, first_data, row), "line",
                 header_index is not None)


def _check_rectangular(path: Path, sep: str, header_index: int | None, short_tail: bool) -> int:
    """Number of data lines; raises on an empty file or a line with a different field count."""
    expected, expected_line, data_rows, short_line = None, 0, 0, None
    for index, line in enumerate(_lines(path)):
        if header_index is not None and index < header_index:
            continue
        if not line.rstrip("\r\n"):
            continue
        fields = _field_count(line, sep)
        if expected is None:
            expected, expected_line = fields, index + 1
        elif short_tail and fields < expected:
            short_line = short_line or (index + 1, fields)
        elif fields != expected or short_line is not None:
            bad_line, bad_fields = (index + 1, fields) if fields != expected else short_line
            raise DatasetFormatError(
                f"{path}: line {bad_line} has {bad_fields} fields but line {expected_line} has "
                f"{expected} (separator {sep!r}); the file is ragged or truncated: repair or "
                "re-download it"
            )
        if header_index is None or index > header_index:
            data_rows += 1
    if expected is None:
        raise DatasetFormatError(f"{path}: the file is empty; re-download or re-export it")
    if data_rows == 0:
        raise DatasetFormatError(f"{path}: the file has a header but no data rows; re-download it")
    return data_rows


def _line_of_row(path: Path, first_data: int, row: int) -> int:
    """1-based line number of data row `row` (blank lines are not rows)."""
    seen = -1
    for index, line in enumerate(_lines(path)):
        if index >= first_data and line.rstrip("\r\n"):
            seen += 1
            if seen == row:
                return index + 1
    raise IndexError(f"{path} has no data row {row}")


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        yield from handle


def _field_count(line: str, sep: str) -> int:
    return len(_cells(line, sep)) if '"' in line else line.count(sep) + 1


def _cells(line: str, sep: str) -> list[str]:
    text = line.rstrip("\r\n")
    cells = next(csv.reader([text], delimiter=sep)) if '"' in text else text.split(sep)
    return [cell.strip() for cell in cells]


def _read_xlsx(path: Path, header: HeaderTest) -> Table:
    try:
        import openpyxl  # noqa: F401  (pandas' engine for .xlsx)
    except ImportError as error:
        raise ModuleNotFoundError(
            f"{path}: reading .xlsx files needs the openpyxl package: `pip install {OPENPYXL_PIN}`, "
            "or save the sheet as CSV and prepare from that"
        ) from error
    sheet = pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
    if sheet.empty:
        raise DatasetFormatError(f"{path}: the sheet is empty; re-download or re-export it")
    for index in range(min(HEADER_SEARCH_LINES, len(sheet))):
        cells = ["" if pd.isna(cell) else str(cell).strip() for cell in sheet.iloc[index]]
        if header(cells):
            frame = sheet.iloc[index + 1:].reset_index(drop=True)
            frame.columns = cells
            frame = frame.dropna(how="all")
            if frame.empty:
                raise DatasetFormatError(f"{path}: the sheet has a header but no data rows")
            sheet_rows = frame.index.to_numpy()
            return Table(path, frame.reset_index(drop=True),
                         lambda row: int(sheet_rows[row]) + index + 2, "row", True)
    raise DatasetFormatError(
        f"{path}: no header row found in the first {HEADER_SEARCH_LINES} rows of the sheet; "
        "is this the right file?"
    )


def check_unique(table: Table, column: str, values: np.ndarray) -> None:
    """Raise DatasetFormatError naming both lines when `values` (one per row) repeat."""
    order = np.argsort(values, kind="stable")
    repeats = np.flatnonzero(values[order][1:] == values[order][:-1])
    if repeats.size:
        first, second = sorted((int(order[repeats[0]]), int(order[repeats[0] + 1])))
        raise DatasetFormatError(
            f"{table.path}: {table.where(second)} repeats the {column} of {table.where(first)} "
            f"({table.frame[column].iloc[first]!r}; {repeats.size} duplicated rows in all); "
            "remove the duplicate rows"
        )

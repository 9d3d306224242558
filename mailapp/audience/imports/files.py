"""Reading uploaded CSV files: encoding, delimiter, header, rows with their line numbers."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from mailapp.errors import ServiceError
from mailapp.models import (
    ImportJob,
)

PREVIEW_ROWS = 5
# Said of a repeated address typed in other capitals: addresses match case-insensitively.
CASE_ONLY = " (differs only in case)"
PROFILE_FIELDS = ("email", "first_name", "last_name", "timezone", "locale", "list")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d+)?$")  # "01234" stays text: a postal code
SUGGESTIONS = {
    "email": ("email", "e-mail", "mail", "email address", "e-mail address"),
    "first_name": ("first_name", "first name", "firstname", "given name", "vorname"),
    "last_name": ("last_name", "last name", "lastname", "surname", "family name", "nachname"),
    "timezone": ("timezone", "time zone", "tz", "time_zone"),
    "locale": ("locale", "language", "lang"),
    "list": ("list", "list name"),
}
csv.field_size_limit(1024 * 1024)


@dataclass
class Upload:
    header: list[str]
    rows: list[list[str]]


def open_upload(path: str) -> IO[str]:
    # utf-8-sig drops a BOM if there is one; undecodable bytes become U+FFFD and the row
    # holding them is reported, instead of the whole import dying on one bad byte.
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def sniff_delimiter(sample: str) -> str:
    """`;` or `,`, whichever splits the first lines into consistent columns."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return ";" if first.count(";") > first.count(",") else ","


def csv_reader(handle: IO[str], delimiter: str) -> Any:
    return csv.reader(handle, delimiter=delimiter)


def read_upload(job: ImportJob, rows: int = PREVIEW_ROWS) -> Upload:
    """The header and the first rows, for the mapping step."""
    with open_upload(job.path) as handle:
        reader = csv_reader(handle, job.delimiter)
        try:
            header = [h.strip() for h in next(reader, [])]
        except csv.Error as exc:
            raise ServiceError(f"the first line cannot be read as CSV: {exc}") from None
        preview: list[list[str]] = []
        while len(preview) < rows:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                continue  # the import reports the line (data_rows); the preview shows the rest
            if row:
                preview.append(row)
    if not any(header):
        raise ServiceError("the first line must name the columns")
    return Upload(header, preview)


def suggest_mapping(header: list[str]) -> dict[str, str]:
    """A first guess the person then corrects: known names map to fields, others to attributes."""
    mapping = {}
    for column in header:
        name = column.strip().lower()
        field = next((f for f, names in SUGGESTIONS.items() if name in names), None)
        if field is None:
            key = re.sub(r"[^a-z0-9_\-]+", "_", name).strip("_")[:64]
            field = f"attributes.{key}" if key else ""
        if field and field in mapping.values() and not field.startswith("attributes."):
            field = ""
        mapping[column] = field
    return mapping


@dataclass
class Row:
    line: int
    values: dict[str, str]
    raw: str
    problem: str | None = None


def data_rows(job: ImportJob) -> Iterator[Row]:
    """Data rows with their starting line (quoted fields may span lines), mapped to fields."""
    with open_upload(job.path) as handle:
        reader = csv_reader(handle, job.delimiter)
        header = [h.strip() for h in next(reader, [])]
        index = {i: job.mapping[name] for i, name in enumerate(header) if job.mapping.get(name)}
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Row(line, {}, "", f"unreadable CSV: {exc}")
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1
            joined = job.delimiter.join(cells)
            if not joined.strip(job.delimiter + " \t"):
                continue
            raw = joined[:2000]
            if len(cells) != len(header):
                yield Row(start, {}, raw, f"expected {len(header)} fields, found {len(cells)}")
            elif "\ufffd" in joined:
                yield Row(start, {}, raw, "not valid UTF-8 text")
            else:
                yield Row(start, {f: cells[i].strip() for i, f in index.items()}, raw)


def count_rows(job: ImportJob) -> int:
    """Data rows in the file (blank lines aside), for the progress bar."""
    with open_upload(job.path) as handle:
        reader = csv_reader(handle, job.delimiter)
        next(reader, None)
        count = 0
        while True:
            try:
                count += bool(next(reader))
            except StopIteration:
                return count
            except csv.Error:
                count += 1  # reported as unreadable when the import reaches it


def contact_data(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"attributes": {}}
    for target, value in values.items():
        if target.startswith("attributes."):
            if value:
                data["attributes"][target.removeprefix("attributes.")] = typed_value(value)
        elif target != "list":
            data[target] = value or None
    return data


def typed_value(value: str) -> Any:
    if NUMBER.match(value):
        return float(value) if "." in value else int(value)
    return value

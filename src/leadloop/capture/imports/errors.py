"""The errors of an import: a bad mapping or file stops it; a bad row is only rejected."""

from __future__ import annotations

from leadloop.common.errors import LeadloopError


class MappingInvalid(LeadloopError):
    """The mapping cannot be used: the message names the TOML key or line."""

    code = "import_mapping_invalid"


class ImportFileInvalid(LeadloopError):
    """The file cannot be imported at all: empty, wrong delimiter, unreadable."""

    code = "import_file_invalid"


class ImportRowInvalid(LeadloopError):
    """One cell of one row is wrong; the row is rejected and the import goes on."""

    code = "import_row_invalid"

    def __init__(self, message: str, *, row: int, column: str, value: str) -> None:
        super().__init__(message, loc=("rows", row, column))
        self.row, self.column, self.value = row, column, value

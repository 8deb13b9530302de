"""The ways a table can be unusable, each a StudioError with one line a user can act on.

Distinct classes so the GUI, the CLI and the tests can tell the cases apart; all of them are
InvalidInputError, so code that only shows the message needs to know none of them."""

from __future__ import annotations

from studio.core.errors import InvalidInputError


class TableError(InvalidInputError):
    """A file that cannot be used as a table as it is."""


class NotATableError(TableError):
    """Binary data, or text without rows and columns."""


class EmptyTableError(TableError):
    """No bytes, only blank lines, or a header without rows."""


class HeaderError(TableError):
    """Column names that are missing, empty, duplicated or not text."""


class RaggedRowsError(TableError):
    """A row with more or fewer fields than the header."""


class MixedTypesError(TableError):
    """A column that holds numbers and text side by side."""


class InfiniteValueError(TableError):
    """An infinite number in a column that is used for training."""


class TargetError(TableError):
    """A target column that cannot be learnt (missing, all empty, a single value...)."""


class TooManyCategoriesError(TableError):
    """A category column with more distinct values than the limit allows."""


class TableLimitError(TableError):
    """A file, row count or column count over one of the named limits."""

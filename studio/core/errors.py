"""Errors a user can read. Every failure a user can cause raises a StudioError with one clear line."""


class StudioError(Exception):
    """A failure with a message meant for the user (CLI prints it on stderr; GUI shows it)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class NotFoundError(StudioError):
    """A dataset, run, class, sample or file that does not exist."""


class InvalidInputError(StudioError):
    """Input that cannot be used as given (bad file, bad parameter, empty dataset...)."""


class Cancelled(Exception):
    """Raised inside a job when the user asked it to stop; not an error."""


def describe_exception(exc: BaseException) -> str:
    """One line for an error that is not the studio's own (a full disk, a read-only folder, a
    database that cannot be written, a library bug), without a traceback."""
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc) or type(exc).__name__
        where = exc.filename
        return f"{text}: {where}" if where else text
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    if orig is not None and type(exc).__module__.startswith("sqlalchemy"):
        return f"the library database cannot be used ({_first_line(orig)})"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__

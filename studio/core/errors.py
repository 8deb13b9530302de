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

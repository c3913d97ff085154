"""Errors raised when task data is missing or malformed."""


class DataFilesNotFoundError(FileNotFoundError):
    """The configured data directory lacks files a task needs; the message lists what it accepts."""


class MalformedDataError(ValueError):
    """A row of a source file cannot be parsed; the message names the file and 1-based line."""

    def __init__(self, path: str, line_number: int, problem: str):
        self.path = path
        self.line_number = line_number
        self.problem = problem
        super().__init__(f"{path}:{line_number}: {problem}")


class CorruptFileError(ValueError):
    """A source file exists but cannot be read; the message names the file and what to do."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


# The errors a user fixes by changing the data or its path; launch/ prints them without a
# traceback.
DATA_ERRORS = (DataFilesNotFoundError, MalformedDataError, CorruptFileError)

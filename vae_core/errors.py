"""The one exception type that carries a message meant for the user."""


class VaeStudioError(Exception):
    """A problem the user can fix (bad flag, bad file, bad value); its text is one clear line."""

    def __str__(self) -> str:
        # The message names files, and a file name may hold a newline: escaped here, once for
        # every message, the line stays one line wherever it is shown.
        return one_line(super().__str__())


def one_line(text: str) -> str:
    """`text` with newlines and other control characters escaped as repr writes them (\\n, \\x1b)."""
    return "".join(
        character if character.isprintable() else repr(character)[1:-1] for character in text
    )


def error_line(error: Exception) -> str:
    """What the user is told of `error`: its own line where it is meant for them, else its kind
    and text, on one line."""
    if isinstance(error, VaeStudioError):
        return str(error)
    return one_line(f"{type(error).__name__}: {error}")

"""The one exception type that carries a message meant for the user."""


class VaeStudioError(Exception):
    """A problem the user can fix (bad flag, bad file, bad value); its text is one clear line."""

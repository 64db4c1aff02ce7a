"""The one base class of every error a user can cause and fix; the CLI prints it as one line and exits 2."""


class PyganError(Exception):
    """A user error: the message names what is wrong and how to fix it."""


class PyganWarning(UserWarning):
    """A choice that works but runs badly here (e.g. emulated bfloat16); the CLI shows it as one line."""

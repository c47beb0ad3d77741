"""Errors a user can act on. Their messages are shown as-is by the CLI and the app."""


class ColorizerError(Exception):
    """Base class: anything the user can fix (bad input, bad weights)."""


class ImageError(ColorizerError):
    """The input is not a usable image: corrupt, unsupported, or too large."""


class WeightsError(ColorizerError):
    """A checkpoint is missing, damaged, or does not match its config."""

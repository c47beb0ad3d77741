"""Errors a user can act on. Their messages are shown as-is by the CLI and the app."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message: enough for a log line or a user message."""
    text = str(err).strip()
    return text.splitlines()[0] if text else "no details"


class ColorizerError(Exception):
    """Base class: anything the user can fix (bad input, bad weights)."""


class ImageError(ColorizerError):
    """The input is not a usable image: corrupt, unsupported, or too large."""


class WeightsError(ColorizerError):
    """A checkpoint is missing, damaged, or does not match its config."""


class SettingsError(ColorizerError):
    """A number given for a setting is not a finite number (see colorizer.settings)."""


class VideoError(ColorizerError):
    """The input is not a usable film: not a video, no video stream, damaged, empty, or too large."""


class HintError(ColorizerError):
    """A colour hint is malformed, outside its photo, or names a photo that is not there (see colorizer.io.hints)."""


class DeviceError(ColorizerError):
    """The device asked for is not one torch knows, or not one this machine has (see pipeline.resolve_device)."""


class ReferenceImageError(ColorizerError):
    """A colour reference is unreadable, too large, or one too many (see colorizer.pipelines.reference)."""

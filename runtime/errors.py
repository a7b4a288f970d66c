"""Errors that stop start-up with one clear sentence instead of a traceback."""


class ConfigError(RuntimeError):
    """A setting is wrong or a required service is unreachable."""

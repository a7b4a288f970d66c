"""The `personas` command line: `main` parses the command and runs it (`server.cli.main`); each
API's commands live in a module of their own here, and register themselves on the parser."""

from server.cli.main import main

__all__ = ["main"]

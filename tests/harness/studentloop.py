"""Placeholder: being written (see tests/tools.py)."""


def add_commands(sub) -> None:
    pass

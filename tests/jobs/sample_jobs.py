"""Job functions for tests (importable by RQ workers)."""


def explode(number: int) -> None:
    """A job that always fails."""
    raise RuntimeError(f"kaboom {number}")

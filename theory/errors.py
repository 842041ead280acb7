"""The one exception theory/ raises for bad input; its message is a single line."""


class TheoryError(ValueError):
    """Bad input to theory/ (unknown name, k < 1, non-positive size, inapplicable role)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))

"""Domain errors raised by storage. Each message is meant for the API client."""


class Rejected(Exception):
    """A request that the stored data or the domain rules do not allow."""


class UnknownTags(Rejected):
    def __init__(self, tags):
        self.tags = list(tags)
        # An empty tag is shown quoted, so that the message still names it.
        names = (tag if tag else repr(tag) for tag in self.tags)
        super().__init__("unknown tags: " + ", ".join(names))


class IncidentNotFound(Rejected):
    def __init__(self, number):
        self.number = number
        super().__init__(f"incident {number} not found")


class InvalidValue(Rejected):
    """A value of the right type that the domain rules refuse (a time out of range, ...)."""


class TooCostly(Rejected):
    """A query stopped at its time limit: the request asked for more work than one answer is
    allowed to cost."""

    def __init__(self, what: str, seconds: float, advice: str):
        super().__init__(f"{what} stopped after {seconds:g} s, its limit: {advice}")


class NotShown(Exception):
    """A tag that names no monitor the public pages show (unknown, or `hidden`)."""

    def __init__(self, tag):
        self.tag = tag
        super().__init__(f"unknown tag: {tag}")

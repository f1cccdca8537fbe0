"""Domain errors raised by storage. Each message is meant for the API client."""


class Rejected(Exception):
    """A request that the stored data or the domain rules do not allow."""


class UnknownTags(Rejected):
    def __init__(self, tags):
        self.tags = list(tags)
        super().__init__("unknown tags: " + ", ".join(repr(t) if not t else t for t in self.tags))


class IncidentNotFound(Rejected):
    def __init__(self, number):
        self.number = number
        super().__init__(f"incident {number} not found")


class InvalidValue(Rejected):
    """A value of the right type that the domain rules refuse (a time out of range, ...)."""

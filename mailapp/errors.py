"""The two errors every domain package raises; views and the API turn them into 4xx answers."""


class ServiceError(Exception):
    """A request the domain refuses; the message is fit to show to the person who asked."""


class NotFound(ServiceError):
    """The object does not exist in the given project."""

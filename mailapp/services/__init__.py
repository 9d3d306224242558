"""The domain: every rule lives here, as functions taking explicit arguments."""


class ServiceError(Exception):
    """A request the domain refuses; the message is fit to show to the person who asked."""


class NotFound(ServiceError):
    """The object does not exist in the given project."""

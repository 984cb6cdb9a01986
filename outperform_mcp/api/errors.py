"""Typed API errors. Each message says what happened and what to do; none carries a secret."""

from __future__ import annotations


class OutPerformError(Exception):
    """Base of every error the API layer raises."""

    status: int | None = None
    hint: str = ""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        self.message = message
        if status is not None:
            self.status = status
        if hint is not None:
            self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(OutPerformError):
    hint = "check the OUTPERFORM_* settings"


class BadRequest(OutPerformError):
    status = 400
    hint = "check the arguments"


class SessionWindowClosed(BadRequest):
    hint = "the 24-hour WhatsApp session window is closed; send an approved template instead"


class Unauthorized(OutPerformError):
    status = 401
    hint = "check OUTPERFORM_CLIENT_ID and OUTPERFORM_CLIENT_SECRET"


class InvalidToken(OutPerformError):
    status = 403
    hint = "the access token was refused even after a refresh; try again, then check the credentials"


class DuplicateRecord(OutPerformError):
    status = 405
    hint = "the record already exists; search for it instead of creating it"


class InvalidTemplate(OutPerformError):
    status = 422
    hint = "check the template name and that the number of parameters matches the template"


class NotFound(OutPerformError):
    status = 404
    hint = "check the identifier"


class RateLimited(OutPerformError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        wait = f"wait {retry_after:g} s and try again" if retry_after is not None else "wait and try again"
        super().__init__(message, hint=wait)


class UpstreamUnavailable(OutPerformError):
    hint = "the OutPerform API is unreachable or failing; try again in a minute"


class MalformedResponse(OutPerformError):
    hint = "the OutPerform API answered with something this client cannot read; try again or report it"


class SendOutcomeUnknown(OutPerformError):
    """The connection failed after a send request may have reached the server.

    Never retried automatically: a retry could deliver the message twice.
    """

    hint = "the message may or may not have been delivered; check the conversation before sending again"

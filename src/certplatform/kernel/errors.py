"""Expected errors: each carries its HTTP status and a message a person can act on.

A message is an English catalog msgid. Its dynamic parts are named parameters
(`Invalid("No certification with code %(code)s.", code=code)`), so each edge shows it in
the reader's language: `localized(gettext)` translates the msgid, then fills it in. A value
that is itself a word of the catalog (a status, a role) is a `Term`, translated too. A
message without parameters is simply translated as it is (ADR 0026).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Gettext = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 - the conventional name extractors look for
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


class Term(str):
    """A parameter value that is a catalog word (a status, a role): translated where shown."""

    __slots__ = ()


class Terms(tuple[Term, ...]):
    """Several catalog words, shown as a list in the reader's language."""

    def __new__(cls, words: Iterable[str]) -> Terms:
        return super().__new__(cls, (Term(w) for w in words))


class Text:
    """A catalog message with named parameters, rendered in the reader's language where it
    is shown; a parameter may be a `Text` itself."""

    __slots__ = ("params", "template")

    def __init__(self, template: str, /, **params: Any) -> None:
        self.template = template
        self.params = params

    def localized(self, gettext: Gettext) -> str:
        return render(self.template, self.params, gettext)

    def __str__(self) -> str:
        return render(self.template, self.params, str)

    def __repr__(self) -> str:
        return f"Text({self.template!r}, **{self.params!r})"


def _value(value: Any, gettext: Gettext) -> Any:
    if isinstance(value, Text | AppError):
        return value.localized(gettext)
    if isinstance(value, Term):
        return gettext(str(value))
    if isinstance(value, Terms):
        return ", ".join(gettext(str(w)) for w in value)
    return value


def render(template: str, params: dict[str, Any], gettext: Gettext) -> str:
    """The message in the language of `gettext`; English when a translation does not fit
    its parameters (a broken translation must not turn an error into a crash)."""
    if not params:
        return gettext(template)
    values = {name: _value(v, gettext) for name, v in params.items()}
    try:
        return gettext(template) % values
    except (KeyError, TypeError, ValueError):
        return template % {name: _value(v, str) for name, v in params.items()}


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str | Text, *, details: Any = None, **params: Any) -> None:
        if isinstance(message, Text):
            params = {**message.params, **params}
            message = message.template
        self.template: str = message
        self.params = params
        self.message = render(message, params, str)
        super().__init__(self.message)
        self.details = details

    @property
    def text(self) -> Text:
        """The message as a catalog message, to show elsewhere (an item of a list)."""
        return Text(self.template, **self.params)

    def localized(self, gettext: Gettext) -> str:
        """The message in the language of `gettext`."""
        return render(self.template, self.params, gettext)

    def to_dict(self, gettext: Gettext = str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.localized(gettext)}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Invalid(AppError):
    status_code = 422
    code = "invalid"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(AppError):
    """A backend the request needs (the database) is down or restarting: retry shortly."""

    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


def database_unavailable_error() -> Unavailable:
    return Unavailable(N_("The database is unavailable for a moment; retry shortly."))

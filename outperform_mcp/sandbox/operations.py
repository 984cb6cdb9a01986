"""Operation names (used by fault rules and stats) and their wire paths."""

from __future__ import annotations

BASE_PATH = "/cloud/conversationapis/v1"

OPERATIONS: tuple[str, ...] = (
    "oauth_login",
    "oauth_access",
    "list_contacts",
    "create_contact",
    "list_labels",
    "list_conversations",
    "chatbot_conversations",
    "send_message",
    "send_template",
)

# Paths whose operation does not depend on the method.
_BY_PATH: dict[str, str] = {
    "/oauth_login": "oauth_login",
    "/oauth_access": "oauth_access",
    "/labels": "list_labels",
    "/conversations": "list_conversations",
    "/chatbot_conversations": "chatbot_conversations",
    "/send_message": "send_message",
    "/send_template": "send_template",
}


def operation_for(method: str, path: str) -> str | None:
    """The operation a request targets, or None for control and unknown paths."""
    if not path.startswith(BASE_PATH):
        return None
    sub = path[len(BASE_PATH) :]
    if sub == "/contacts":
        return "create_contact" if method == "POST" else "list_contacts"
    return _BY_PATH.get(sub)

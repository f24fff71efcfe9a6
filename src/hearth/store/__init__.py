"""Conversation stores. The embedded default is SQLite (:mod:`hearth.store.sqlite`)."""

from hearth.store.sqlite import (
    ConversationInfo,
    ConversationNotFoundError,
    ConversationStore,
    StoredConversation,
    StoredTurn,
    default_path,
)

__all__ = [
    "ConversationInfo",
    "ConversationNotFoundError",
    "ConversationStore",
    "StoredConversation",
    "StoredTurn",
    "default_path",
]

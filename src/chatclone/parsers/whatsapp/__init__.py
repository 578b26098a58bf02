"""WhatsApp exports (Android and iOS `.txt`, and the `.zip` that "Export chat" writes)."""

from chatclone.parsers.whatsapp.parser import WhatsAppParser, chat_name_from

__all__ = ["WhatsAppParser", "chat_name_from"]

"""Notification messages: composing mail and SMS-gateway texts, picking attachments, remembering what was sent."""

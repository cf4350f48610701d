"""The Telegram channel: python-telegram-bot inside Deputy's own event loop, polling or webhook."""

"""The bot's scan loop and its orchestration."""

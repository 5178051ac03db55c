"""The one settings model every mraster process builds the same way (see loader.py)."""
from .fields import FIELDS, FIELDS_BY_ENV
from .loader import (
    MASK, SOURCES, LoadedSettings, Settings, SettingsError, default_settings, load_settings,
    parse_assignments, validate_updates,
)
from .schema import GROUPS, FieldError, FieldSpec

__all__ = [
    "FIELDS", "FIELDS_BY_ENV", "GROUPS", "MASK", "SOURCES", "FieldError", "FieldSpec", "LoadedSettings",
    "Settings", "SettingsError", "default_settings", "load_settings", "parse_assignments", "validate_updates",
]

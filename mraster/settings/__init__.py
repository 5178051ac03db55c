"""The one settings model every mraster process builds the same way (see loader.py)."""
from mraster.settings.fields import FIELDS, FIELDS_BY_ENV
from mraster.settings.loader import (
    MASK, SOURCES, LoadedSettings, Settings, SettingsError, default_settings, load_settings,
    parse_assignments, validate_updates,
)
from mraster.settings.schema import GROUPS, FieldError, FieldSpec

__all__ = [
    "FIELDS", "FIELDS_BY_ENV", "GROUPS", "MASK", "SOURCES", "FieldError", "FieldSpec", "LoadedSettings",
    "Settings", "SettingsError", "default_settings", "load_settings", "parse_assignments", "validate_updates",
]

"""Engines: kinds (what each strategy is), instances (which run, where, how) and their settings.

    from mraster.engines import all_kinds, load_instances, instance_settings
"""
from mraster.engines.instances import (
    ENV_ACCOUNT, ENV_INSTANCE, EngineInstance, InstanceError, default_instances, env_name, exclusive_conflicts,
    instance_paths, instance_settings, instances_file, load_instances, parse_instance, parse_instances,
    resolve_flat, save_instances, setting_specs,
)
from mraster.engines.process import Resolved, find_instance, resolve_instance
from mraster.engines.registry import EngineKind, GuardScope, all_kinds, get_kind

__all__ = [
    "ENV_ACCOUNT", "ENV_INSTANCE", "EngineInstance", "EngineKind", "GuardScope", "InstanceError", "Resolved",
    "default_instances", "env_name", "exclusive_conflicts", "find_instance", "resolve_instance", "instance_paths", "instance_settings", "instances_file", "all_kinds", "get_kind",
    "load_instances", "parse_instance", "parse_instances", "resolve_flat", "save_instances", "setting_specs",
]

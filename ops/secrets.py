"""Secrets at start (seed 002's fetch_secrets.sh): run the command the operator names in
ASTER_SECRETS_COMMAND (a secret manager's CLI, a script) and take the `NAME=value` lines it prints.

Values go into this process's environment (children inherit them) and into the log redaction list;
they are never printed or logged, only the names. A failing command or a malformed line stops the
start with a message that names the line number, never its value.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Mapping, MutableMapping

from dotenv import dotenv_values

from mraster.logs import register_secrets

_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
ENV_NAME = "ASTER_SECRETS_COMMAND"


class SecretsError(Exception):
    """The secrets command failed or printed something that is not NAME=value lines."""


def parse_lines(text: str) -> dict[str, str]:
    """`NAME=value` lines (blank lines and # comments skipped, `export ` allowed, one pair of quotes
    stripped); a malformed line raises with its number only."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise SecretsError(f"line {number} of the secrets command's output is not NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value
    return out


def run_command(command: str, timeout: float = 60.0) -> dict[str, str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretsError(f"{ENV_NAME}: cannot parse the command ({exc})") from None
    if not argv:
        return {}
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SecretsError(f"{ENV_NAME}: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise SecretsError(f"{ENV_NAME}: {argv[0]} did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        # stderr may echo a value on some CLIs: show only its first line, redacted of what it printed
        first = (proc.stderr.strip().splitlines() or [""])[0][:200]
        raise SecretsError(f"{ENV_NAME}: {argv[0]} exited {proc.returncode}: {first}")
    return parse_lines(proc.stdout)


def configured_command(environ: Mapping[str, str], dotenv_file: str | None) -> str:
    """The command from the environment, else from the .env file (the operator's two places)."""
    command = environ.get(ENV_NAME, "").strip()
    if not command and dotenv_file and os.path.isfile(dotenv_file):
        command = (dotenv_values(dotenv_file).get(ENV_NAME) or "").strip()
    return command


def apply_secrets(environ: MutableMapping[str, str], dotenv_file: str | None = ".env") -> list[str]:
    """Run the configured command once per process tree and set what it prints; returns the names set.

    Values already in the environment win (the operator's explicit setting); a child started by this
    process inherits the values and a marker, so it does not run the command again.
    """
    if environ.get("MRASTER_SECRETS_APPLIED") == "1":
        return []
    command = configured_command(environ, dotenv_file)
    if not command:
        return []
    values = run_command(command)
    register_secrets(values.values())
    names = []
    for name, value in values.items():
        if name not in environ or not environ[name]:
            environ[name] = value
            names.append(name)
    environ["MRASTER_SECRETS_APPLIED"] = "1"
    return names

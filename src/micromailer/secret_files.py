"""Credentials from files: ``<NAME>_FILE`` names a file whose content is ``<NAME>``'s value.

Containers mount secrets as files (Docker and Kubernetes secrets), so that they stay out of the
environment, the image and ``docker inspect``. A setting opts in with one declaration, the
:data:`FROM_FILE` marker in its annotation; every name it is read under then also has a
``_FILE`` twin (``SENDGRID_API_KEY_FILE``, ``MICROMAILER_DATABASE_URL_FILE``…). The content is
taken as it is, less its trailing newline. A value both set and named by a file, an unreadable
file, or an empty one stops the start with a sentence naming the variable, never the content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

#: What turns a variable's name into the name of its file's variable.
FILE_SUFFIX = "_FILE"


class FromFile:
    """Marks a setting that may also be read from the file ``<NAME>_FILE`` names."""

    def __repr__(self) -> str:
        return "FROM_FILE"


#: ``Annotated[SecretStr | None, FROM_FILE]``: the setting may come from a file.
FROM_FILE = FromFile()


class SecretFileSettingsSource(PydanticBaseSettingsSource):
    """The values of the :data:`FROM_FILE` settings whose ``<NAME>_FILE`` is set."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        environ = os.environ if environ is None else environ
        case_sensitive = bool(self.config.get("case_sensitive", False))
        self._environ = {
            (name if case_sensitive else name.upper()): value
            for name, value in environ.items() if value
        }
        self._prefix = str(self.config.get("env_prefix", ""))

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            if any(isinstance(marker, FromFile) for marker in field.metadata):
                value, key, _ = self.get_field_value(field, field_name)
                if value is not None:
                    values[key] = value
        return values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The content of the file ``field``'s ``<NAME>_FILE`` names (``None`` when none is
        set), and the key pydantic validates it under."""
        names = self.variable_names(field, field_name)
        key = _validation_key(field, field_name)
        named = [name for name in names if name + FILE_SUFFIX in self._environ]
        if not named:
            return None, key, False
        file_variable = named[0] + FILE_SUFFIX
        also = [name for name in names if name in self._environ]
        also += [name + FILE_SUFFIX for name in named[1:]]
        if also:
            raise SettingsError(
                f"{file_variable} and {also[0]} are both set: set only one of them (the file "
                "is for secrets mounted into a container)."
            )
        return read_secret_file(file_variable, self._environ[file_variable]), key, False

    def variable_names(self, field: FieldInfo, field_name: str) -> list[str]:
        """The environment variables ``field`` is read from, as pydantic-settings reads it."""
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            names = [alias]
        else:
            names = [self._prefix + field_name]
        return names if self.config.get("case_sensitive") else [name.upper() for name in names]


def _validation_key(field: FieldInfo, field_name: str) -> str:
    """The name pydantic validates ``field`` under: its (first) alias, else its name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return next((c for c in alias.choices if isinstance(c, str)), field_name)
    return alias if isinstance(alias, str) else field_name


def read_secret_file(variable: str, path: str) -> str:
    """The file's text less its trailing newline; ``SettingsError`` naming ``variable`` and the
    path (never the content) when it cannot be read or is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(
            f"{variable} names {path}, which is not UTF-8 text: put the value itself in it."
        ) from None
    except OSError as exc:
        raise SettingsError(
            f"{variable} names {path}, which cannot be read ({exc.strerror or exc}): point it "
            "at a readable file holding the value."
        ) from None
    value = text.rstrip("\r\n")
    if not value:
        raise SettingsError(f"{variable} names {path}, which is empty: put the value in it.")
    return value


__all__ = ["FILE_SUFFIX", "FROM_FILE", "FromFile", "SecretFileSettingsSource", "read_secret_file"]

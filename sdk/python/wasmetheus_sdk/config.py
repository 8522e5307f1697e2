"""Parsing an instance's JSON configuration, checked against the plugin's
own config schema (the one its `Metadata` declares), with errors that name
the setting and say what is expected.

    SCHEMA = {"type": "object", "additionalProperties": False,
              "properties": {"directory": {"type": "string", "minLength": 1},
                             "max_files": {"type": "integer", "minimum": 1,
                                           "default": 1000}},
              "required": ["directory"]}
    config = parse_config(text, SCHEMA)   # {"directory": …, "max_files": 1000}

The schema subset understood: `type` (object, string, integer, number,
boolean, array, null, or a list of them), `properties`, `required`,
`additionalProperties` (false or a schema), `default`, `enum`, `minimum`,
`maximum`, `minLength`, `maxLength`, `items`, `minItems`, `maxItems`.
Other keywords are ignored.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from .errors import InvalidConfig

#: The largest configuration text accepted.
MAX_CONFIG_BYTES = 1 << 20

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(value: Any, schema: Mapping, where: str) -> Any:
    """Checks `value` against `schema`; returns it with defaults filled in."""
    expected = schema.get("type")
    if expected is not None:
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(k, lambda v: True)(value) for k in kinds):
            raise InvalidConfig(
                f"{where}: expected {' or '.join(kinds)}, got {_describe(value)}"
            )
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        raise InvalidConfig(f"{where}: {_describe(value)} is not one of {choices}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise InvalidConfig(f"{where}: {value} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise InvalidConfig(f"{where}: {value} is more than the maximum {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise InvalidConfig(f"{where}: must be at least {schema['minLength']} characters long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise InvalidConfig(f"{where}: must be at most {schema['maxLength']} characters long")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise InvalidConfig(f"{where}: needs at least {schema['minItems']} entries")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise InvalidConfig(f"{where}: takes at most {schema['maxItems']} entries")
        items = schema.get("items")
        if isinstance(items, Mapping):
            value = [_check(v, items, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        value = _check_object(value, schema, where)
    return value


def _check_object(value: dict, schema: Mapping, where: str) -> dict:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out = {}
    for key, item in value.items():
        path = f"{where}.{key}"
        if key in properties:
            out[key] = _check(item, properties[key], path)
        elif extra is False:
            known = ", ".join(sorted(properties)) or "none"
            raise InvalidConfig(f"{where}: unknown setting {key!r} (known settings: {known})")
        elif isinstance(extra, Mapping):
            out[key] = _check(item, extra, path)
        else:
            out[key] = item
    for key in schema.get("required", []):
        if key not in out:
            raise InvalidConfig(f"{where}: the setting {key!r} is required")
    for key, sub in properties.items():
        if key not in out and isinstance(sub, Mapping) and "default" in sub:
            out[key] = json.loads(json.dumps(sub["default"]))
    return out


class _DuplicateKey(Exception):
    pass


class _NotJson(Exception):
    pass


def _no_constant(name: str):
    raise _NotJson(f"{name} is not a JSON number")


def _no_duplicates(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def parse_config(config: str, schema: Optional[Mapping] = None) -> dict:
    """Parses the configuration `open` received (a JSON object; an empty
    string counts as `{}`), checks it against `schema` (a dict, usually the
    one given to `Metadata`) and fills in the schema's defaults. Raises
    `InvalidConfig` naming the setting at fault; a config over 1 MiB, one
    that is not JSON, or one that gives a key twice is refused too."""
    if isinstance(config, (bytes, bytearray)):
        size = len(config)
        config = bytes(config).decode("utf-8", "replace")
    else:
        size = len(config.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise InvalidConfig(
            f"config is {size} bytes, more than the limit of {MAX_CONFIG_BYTES} bytes (1 MiB); "
            "keep large data in a granted file and name it in the config"
        )
    if not config.strip():
        config = "{}"
    try:
        value = json.loads(config, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InvalidConfig(
            f"config is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except _NotJson as e:
        raise InvalidConfig(f"config is not valid JSON: {e}") from None
    except _DuplicateKey as e:
        raise InvalidConfig(
            f"config gives the key {e.args[0]!r} twice in one object; keep one"
        ) from None
    except RecursionError:
        raise InvalidConfig("config is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidConfig(f"config: expected a JSON object of settings, got {_describe(value)}")
    if schema is None:
        return value
    try:
        return _check(value, schema, "config")
    except RecursionError:
        raise InvalidConfig("config is nested too deeply") from None

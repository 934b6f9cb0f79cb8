"""The registry of built-in backends is the one source of their names, schemes and options."""

from __future__ import annotations

import inspect
import typing as t

import pytest

import mailproviders.typing as public_types
from mailproviders.config.dsn import DSN_SCHEMES, parse_dsn
from mailproviders.config.schema import settings_schema
from mailproviders.config.secretfiles import _is_secret
from mailproviders.registry import (
    BUILTIN_BACKENDS,
    BUILTINS,
    BuiltinBackend,
    backend_path,
    builtin,
    import_backend,
    short_name,
)

#: Keyword arguments the handler passes itself; they are not OPTIONS.
INJECTED = {"alias", "providers"}
ROWS = [pytest.param(row, id=row.name) for row in BUILTINS]


def _signature_options(row: BuiltinBackend) -> set[str]:
    backend = import_backend(row.path, None)
    parameters = inspect.signature(backend.__init__).parameters
    kinds = {p.kind for p in parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{row.path} takes **kwargs"
    return set(parameters) - {"self"} - INJECTED


def _secrets(row: BuiltinBackend) -> set[str]:
    """The secret options of ``row``: each may be given as ``<name>_file`` instead."""
    fields = row.options.model_fields.items()
    return {name for name, field in fields if _is_secret(name, field.annotation)}


@pytest.mark.parametrize("row", ROWS)
def test_options_model_signature_and_typed_dict_agree(row: BuiltinBackend) -> None:
    model = set(row.options.model_fields)
    typed_dict = getattr(public_types, row.typed_dict)
    declared = set(t.get_type_hints(typed_dict))
    files = {f"{name}_file" for name in _secrets(row)}
    assert model == _signature_options(row) == declared - files
    assert files <= declared, f"{row.typed_dict} lacks {sorted(files - declared)}"


@pytest.mark.parametrize("row", ROWS)
def test_required_options_agree(row: BuiltinBackend) -> None:
    typed_dict = getattr(public_types, row.typed_dict)
    hints = t.get_type_hints(typed_dict, include_extras=True)
    # total=False TypedDicts mark required keys with Required[...]
    required = {name for name, hint in hints.items() if t.get_origin(hint) is t.Required}
    required_model = {n for n, f in row.options.model_fields.items() if f.is_required()}
    # A required secret may come from its <name>_file key instead: neither is Required.
    assert required == required_model - _secrets(row)
    assert row.options_optional == (not required_model)


def _backend_literals() -> list[set[str]]:
    """The BACKEND Literal of every built-in provider TypedDict of mailproviders.typing."""
    found = []
    for name in dir(public_types):
        value = getattr(public_types, name)
        if (
            name.endswith("ProviderDict")
            and isinstance(value, type)
            and name != "CustomProviderDict"
        ):
            hint = t.get_type_hints(value, include_extras=True)["BACKEND"]
            if t.get_origin(hint) is t.NotRequired:
                hint = t.get_args(hint)[0]
            found.append(set(t.get_args(hint)))
    return found


@pytest.mark.parametrize("row", ROWS)
def test_provider_typed_dict_lists_every_name(row: BuiltinBackend) -> None:
    literals = _backend_literals()
    assert len(literals) == len(BUILTINS)
    assert {*row.names, row.path} in literals


@pytest.mark.parametrize("row", ROWS)
def test_names_schemes_and_schema_derive_from_the_row(row: BuiltinBackend) -> None:
    for name in row.names:
        assert BUILTIN_BACKENDS[name] == row.path
        assert builtin(name) is row
        assert backend_path(name) == row.path
    assert short_name(row.path) == row.name
    assert import_backend(row.name, "x") is import_backend(row.path, "x")
    for scheme, implied in row.schemes.items():
        assert DSN_SCHEMES[scheme] == (row.path, implied)
    schema = settings_schema()["$defs"][f"{row.name.capitalize()}Provider"]
    assert schema["properties"]["BACKEND"]["enum"] == [*row.names, row.path]
    assert schema["properties"]["OPTIONS"]["$ref"].endswith(row.options.__name__)


def test_every_dsn_scheme_parses_to_its_backend(tmp_path: object) -> None:
    examples = {
        "server": "{scheme}://host.example",
        "directory": "{scheme}:///var/mail",
        "aliases": "{scheme}://a,b",
        "bare": "{scheme}://",
        "api": "{scheme}://KEY@default",
    }
    for row in BUILTINS:
        for scheme, implied in row.schemes.items():
            parsed = parse_dsn(examples[row.dsn_form].format(scheme=scheme), alias="x")
            assert parsed["BACKEND"] == row.path
            assert implied.items() <= parsed["OPTIONS"].items()


def test_unknown_names_are_not_built_ins() -> None:
    assert builtin("myapp.mail.Backend") is None
    assert short_name("myapp.mail.Backend") == "myapp.mail.Backend"
    with pytest.raises(ValueError, match="built-in backend name"):
        backend_path("not a path")

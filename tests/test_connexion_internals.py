"""The guard on kener_api.connexion_internals: it subclasses Connexion's internals and redoes
some of their work, so a Connexion release that moves them must fail here, loudly and by
name, before it can change what the server does.

Two checks: every name a subclass defines overrides one its Connexion base still has, with
the same parameters (a renamed hook would leave the override silently unused); and the
source of each piece of Connexion whose behaviour is re-implemented or relied on is the
source it was written against (a fingerprint). On a new Connexion version, read what
changed in each piece named, bring the module in step, then update the fingerprint.
"""

import hashlib
import importlib.metadata
import inspect
import json

import pytest
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.decorators.main import BaseDecorator
from connexion.decorators.parameter import AsyncParameterDecorator, BaseParameterDecorator
from connexion.frameworks.starlette import Starlette
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationOperation,
)
from connexion.middleware.response_validation import (
    ResponseValidationAPI,
    ResponseValidationOperation,
)
from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from connexion.validators import (
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    ParameterValidator,
)
from connexion.validators.abstract import AbstractRequestBodyValidator

from kener_api import connexion_internals

WRITTEN_AGAINST = "3.3.0"

# sha256 (first 16 hex digits) of each piece's source in Connexion 3.3.0, and why it matters.
FINGERPRINTS = {
    # PreparedOperation.__call__ redoes it with the request wrapper and decorator built once.
    "AsyncOperation.__call__": (AsyncOperation.__call__, "5435ed498983193d"),
    "AsyncOperation.__init__": (AsyncOperation.__init__, "09b0d7fdd70326ed"),
    "AsyncApi.make_operation": (AsyncApi.make_operation, "555eaf3ca12397b1"),
    "Starlette.get_request": (Starlette.get_request, "0e2625a06664e504"),
    # _InlineDecorator replaces two of its properties; the rest of the chain is Connexion's.
    "StarletteDecorator": (StarletteDecorator, "28feb6de2ec41799"),
    "BaseDecorator.decorate": (BaseDecorator.decorate, "ecc6529a18274fda"),
    # _PreparedParameterDecorator wraps the `sanitize_fn` set here, and redoes the wrapper
    # of __call__ less the body and files steps that cannot change the arguments here.
    "BaseParameterDecorator.__init__": (BaseParameterDecorator.__init__, "a2ab5462f60aa23a"),
    "AsyncParameterDecorator.__call__": (AsyncParameterDecorator.__call__, "c3223e31eb92742e"),
    "BaseParameterDecorator._maybe_get_body": (
        BaseParameterDecorator._maybe_get_body,
        "18183067248151ee",
    ),
    # _PreparedRequestValidation redoes __call__ with validators built in __init__.
    "RequestValidationOperation.__init__": (
        RequestValidationOperation.__init__,
        "d21eda3fde4a2734",
    ),
    "RequestValidationOperation.__call__": (
        RequestValidationOperation.__call__,
        "af472716211911b9",
    ),
    "RequestValidationAPI.make_operation": (
        RequestValidationAPI.make_operation,
        "55b32cb8b0ab229e",
    ),
    "AbstractRequestBodyValidator.wrap_receive": (
        AbstractRequestBodyValidator.wrap_receive,
        "44c469448a6e46fb",
    ),
    "JSONRequestBodyValidator._validate": (JSONRequestBodyValidator._validate, "273956bb6cb6dd4e"),
    "ResponseValidationOperation.validate_mime_type": (
        ResponseValidationOperation.validate_mime_type,
        "3331c9305631b1db",
    ),
    "ResponseValidationAPI.make_operation": (
        ResponseValidationAPI.make_operation,
        "770d433c2951acf6",
    ),
    "JSONResponseBodyValidator._parse": (JSONResponseBodyValidator._parse, "0866f1c2dabfaff5"),
    # NamedParameterValidator checks the text first, then calls these.
    "ParameterValidator.validate": (ParameterValidator.validate, "e5615916d947428b"),
    "ParameterValidator.validate_parameter": (
        ParameterValidator.validate_parameter,
        "2d9293659a1c1ea5",
    ),
    # UntypedPathRoutingAPI/Middleware override and repeat these.
    "RoutingAPI._add_operation_internal": (RoutingAPI._add_operation_internal, "1b9e5ec803988f5d"),
    "RoutingMiddleware.add_api": (RoutingMiddleware.add_api, "a25f6d00c2c1d3d2"),
}

# Names a subclass adds (none of Connexion's own).
ADDED = {
    "PreparedOperation": {"from_operation"},
    "_PreparedParameterDecorator": {"BODY_NAME"},
    "StrictJSONBodyValidator": set(),
    "TagModuleResolver": set(),
}
_CLASS_BOOKKEEPING = {
    "__module__",
    "__doc__",
    "__qualname__",
    "__dict__",
    "__weakref__",
    "__annotations__",
    "__abstractmethods__",
    "_abc_impl",
    "__firstlineno__",
    "__static_attributes__",
}


def _subclasses() -> list[type]:
    return [
        cls
        for cls in vars(connexion_internals).values()
        if inspect.isclass(cls)
        and cls.__module__ == connexion_internals.__name__
        and any(base.__module__.startswith("connexion.") for base in cls.__mro__[1:])
    ]


def _connexion_definition(cls: type, name: str):
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("connexion.") and name in vars(base):
            return vars(base)[name]
    return None


def test_the_module_holds_every_subclass_it_should():
    names = {cls.__name__ for cls in _subclasses()}
    assert {
        "PreparedOperation",
        "PreparedASGIApp",
        "PreparedRequestValidationMiddleware",
        "PreparedResponseValidationMiddleware",
        "UntypedPathRoutingMiddleware",
        "StrictJSONBodyValidator",
        "CompiledJSONResponseBodyValidator",
        "NamedParameterValidator",
        "TagModuleResolver",
    } <= names


@pytest.mark.parametrize("cls", _subclasses(), ids=lambda cls: cls.__name__)
def test_every_override_still_overrides_something(cls):
    for name, ours in vars(cls).items():
        if name in _CLASS_BOOKKEEPING or name in ADDED.get(cls.__name__, set()):
            continue
        if name == "__init__":
            continue  # constructors call Connexion's; their parameters are checked by running
        theirs = _connexion_definition(cls, name)
        assert theirs is not None, (
            f"{cls.__name__}.{name} overrides nothing in Connexion "
            f"{importlib.metadata.version('connexion')}: the hook moved"
        )
        if inspect.isfunction(ours) and inspect.isfunction(theirs):
            assert list(inspect.signature(ours).parameters) == list(
                inspect.signature(theirs).parameters
            ), f"{cls.__name__}.{name}'s parameters differ from Connexion's"


@pytest.mark.parametrize("name", FINGERPRINTS)
def test_what_is_relied_on_is_what_it_was_written_against(name):
    obj, expected = FINGERPRINTS[name]
    found = hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]
    assert found == expected, (
        f"Connexion {importlib.metadata.version('connexion')} changed {name} (written against "
        f"{WRITTEN_AGAINST}): review kener_api/connexion_internals.py, then update "
        f"this fingerprint to {found}"
    )


def test_every_body_is_named_body():
    """What _PreparedParameterDecorator decides when a handler is decorated: Connexion
    would name the body of an operation with `x-body-name` otherwise."""
    import yaml

    from kener_api.app import SPEC_PATH

    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert "x-body-name" not in json.dumps(spec)
    assert connexion_internals._PreparedParameterDecorator.BODY_NAME == "body"


def test_the_replaced_middlewares_are_still_connexions_defaults():
    defaults = ConnexionMiddleware.default_middlewares
    for replaced in connexion_internals._REPLACED_MIDDLEWARES:
        assert replaced in defaults, f"{replaced.__name__} is no longer one of Connexion's"


def test_the_app_runs_the_replacements(app):
    _, layers = app.middleware._build_middleware_stack()
    stack = [type(layer) for layer in layers]
    for cls in (
        connexion_internals.UntypedPathRoutingMiddleware,
        connexion_internals.PreparedRequestValidationMiddleware,
        connexion_internals.PreparedResponseValidationMiddleware,
    ):
        assert cls in stack, [c.__name__ for c in stack]
    assert isinstance(app._middleware_app, connexion_internals.PreparedASGIApp)

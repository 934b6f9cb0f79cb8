"""Run one module of Django's ``tests/mail`` against mailproviders (used by django-compat).

Runs inside the runner's Python 3.13 venv (Django 6.1.3 + mailproviders + aiosmtpd):

    python django_compat_shim.py TESTS_DIR MODULE OUT_JSON

The shim rewrites imports only: ``django.core.mail`` and its submodules resolve to
modules backed by mailproviders, with the deliberate renames (``MAILERS`` →
``EMAIL_PROVIDERS``, ``mailers`` → ``providers``, ``InvalidMailer`` →
``InvalidEmailProvider``, ``MailerDoesNotExist`` → ``EmailProviderDoesNotExist``,
``RemovedInDjango2028Warning`` → ``MailProvidersDeprecationWarning``; ``MAILERS`` also in the
messages that assertion helpers expect). Django's settings
overrides are mirrored into ``mailproviders.configure()`` through ``setting_changed``.
No test file is copied or edited. A name mailproviders does not have at all raises
``unittest.SkipTest`` when a test uses it: such a test counts as not applicable, with
the missing name as its reason.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import unittest
import warnings
from typing import Any

#: Django names → mailproviders names.
RENAMES = {
    "mailers": "providers",
    "InvalidMailer": "InvalidEmailProvider",
    "MailerDoesNotExist": "EmailProviderDoesNotExist",
    "MailersHandler": "ProvidersHandler",
    "DEFAULT_MAILER_ALIAS": "DEFAULT_PROVIDER_ALIAS",
}
SETTING_RENAMES = {"MAILERS": "EMAIL_PROVIDERS"}
#: Django settings that mailproviders reads (after SETTING_RENAMES).
MAIL_SETTINGS = (
    "MAILERS",
    "DEFAULT_FROM_EMAIL",
    "SERVER_EMAIL",
    "ADMINS",
    "MANAGERS",
    "EMAIL_SUBJECT_PREFIX",
    "EMAIL_USE_LOCALTIME",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
    "EMAIL_SSL_CERTFILE",
    "EMAIL_SSL_KEYFILE",
    "EMAIL_FILE_PATH",
)

#: Django module → (mailproviders modules searched in order).
MODULES = {
    "django.core.mail": ("mailproviders", "mailproviders.legacy", "mailproviders.message"),
    "django.core.mail.message": ("mailproviders.message", "mailproviders"),
    "django.core.mail.utils": ("mailproviders.message", "mailproviders.message.hostname"),
    "django.core.mail.exceptions": ("mailproviders.exceptions",),
    "django.core.mail.handler": ("mailproviders.handler",),
    "django.core.mail.backends": ("mailproviders.backends",),
    "django.core.mail.backends.base": ("mailproviders.backends.base",),
    "django.core.mail.backends.console": ("mailproviders.backends.console",),
    "django.core.mail.backends.dummy": ("mailproviders.backends.dummy",),
    "django.core.mail.backends.filebased": ("mailproviders.backends.filebased",),
    "django.core.mail.backends.locmem": ("mailproviders.backends.locmem",),
    "django.core.mail.backends.smtp": ("mailproviders.backends.smtp",),
}


class _Missing:
    """A name mailproviders lacks: using it makes the test not applicable."""

    def __init__(self, module: str, name: str) -> None:
        self._what = f"{module}.{name}"

    def _skip(self, *args: Any, **kwargs: Any) -> Any:
        raise unittest.SkipTest(f"not applicable: mailproviders has no {self._what}")

    __call__ = __getattr__ = __getitem__ = __iter__ = _skip  # type: ignore[assignment]


class ShimModule(types.ModuleType):
    """A Django module name whose attributes come from mailproviders modules.

    Setting an attribute the backing module has (``mock.patch``) sets it there."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name)
        object.__setattr__(self, "_targets", [importlib.import_module(t) for t in targets])
        object.__setattr__(self, "__path__", [])  # a package: submodules are shims too

    def _find(self, name: str) -> tuple[Any, Any]:
        real = RENAMES.get(name, name)
        for target in object.__getattribute__(self, "_targets"):
            try:
                return target, getattr(target, real)
            except AttributeError:
                continue
        return None, None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "outbox":
            return importlib.import_module("mailproviders.backends.locmem").outbox
        _, value = self._find(name)
        if value is None:
            full = f"{self.__name__}.{name}"
            if full in sys.modules:
                return sys.modules[full]
            return _Missing(self.__name__, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "outbox":  # Django's test setup resets the outbox by assignment
            importlib.import_module("mailproviders.backends.locmem").outbox[:] = list(value)
            return
        target, _ = self._find(name)
        if target is not None and not isinstance(value, types.ModuleType):
            setattr(target, RENAMES.get(name, name), value)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name == "outbox":
            importlib.import_module("mailproviders.backends.locmem").outbox.clear()
            return
        target, _ = self._find(name)
        if target is not None and name not in self.__dict__:
            delattr(target, RENAMES.get(name, name))
        else:
            object.__delattr__(self, name)


def install_shim() -> None:
    import django.core
    import django.utils.deprecation

    import mailproviders

    django.utils.deprecation.RemovedInDjango2028Warning = (  # type: ignore[misc]
        mailproviders.MailProvidersDeprecationWarning
    )
    # Django's own deprecation constants (warning texts) stay Django's: keep the real
    # module for them, imported before the shim takes the package name.
    deprecation = importlib.import_module("django.core.mail.deprecation")
    for name in [n for n in sys.modules if n.startswith("django.core.mail")]:
        if name != "django.core.mail.deprecation":
            del sys.modules[name]
    for name, targets in MODULES.items():
        sys.modules[name] = ShimModule(name, targets)
    sys.modules["django.core.mail.deprecation"] = deprecation
    django.core.mail = sys.modules["django.core.mail"]  # type: ignore[attr-defined]
    for name in MODULES:
        parent, _, child = name.rpartition(".")
        if parent in MODULES:
            object.__setattr__(sys.modules[parent], child, sys.modules[name])
    object.__setattr__(sys.modules["django.core.mail"], "deprecation", deprecation)


def _renamed_text(text: Any) -> Any:
    """An expected message with Django's setting name replaced by ours (the rename)."""
    if not isinstance(text, str):
        return text
    return text.replace("a MAILERS alias", "an EMAIL_PROVIDERS alias").replace(
        "MAILERS", "EMAIL_PROVIDERS"
    )


def translate_expected_messages() -> None:
    """Apply SETTING_RENAMES to the messages Django's assertion helpers expect.

    Our texts name our setting (EMAIL_PROVIDERS) where Django's name theirs (MAILERS):
    the same rename as for the setting itself, applied to the expected text only.
    """
    from django.test import SimpleTestCase

    for name in ("assertWarnsMessage", "assertRaisesMessage"):
        original = getattr(SimpleTestCase, name)

        def renamed(self: Any, expected: Any, text: Any, *args: Any, _o: Any = original,
                    **kwargs: Any) -> Any:
            return _o(self, expected, _renamed_text(text), *args, **kwargs)

        setattr(SimpleTestCase, name, renamed)


def mirror_settings(**_: Any) -> None:
    """Install the mail settings Django has in effect into mailproviders.configure()."""
    from django.conf import settings

    import mailproviders

    values: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in MAIL_SETTINGS:
            if hasattr(settings, name) and settings.is_overridden(name):
                values[SETTING_RENAMES.get(name, name)] = getattr(settings, name)
    try:
        # Installing legacy settings warns; Django's tests ignore their own settings
        # warning while installing an override (override_deprecated_email_settings), so
        # the mirror ignores ours there too, and only there.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                r"The EMAIL_\w+ setting is deprecated",
                mailproviders.MailProvidersDeprecationWarning,
            )
            mailproviders.configure(**values)
    except Exception as exc:  # a test may install settings that are invalid on purpose
        # Keep the error for the first use, as Django reports bad MAILERS on use.
        sys.stderr.write(f"configure() refused the overridden settings: {exc!r}\n")


class Recorder(unittest.TextTestResult):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, dict[str, str]] = {}

    def _set(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        # A subtest counts for its test; the worst outcome wins (fail > skip > pass).
        test_id = getattr(test, "test_case", test).id()
        rank = {"pass": 0, "skip": 1, "fail": 2}
        previous = self.outcomes.get(test_id)
        if previous is None or rank[outcome] >= rank[previous["outcome"]]:
            if previous is not None and previous["outcome"] == outcome == "fail":
                detail = previous["detail"] + detail
            self.outcomes[test_id] = {"outcome": outcome, "detail": detail}

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._set(test, "fail", self._exc_info_to_string(err, test))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "pass")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "fail", "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:  # a failing subtest fails its test
            self._set(test, "fail", self._exc_info_to_string(err, test))


def main() -> int:
    tests_dir, module, out = sys.argv[1:4]
    sys.path.insert(0, tests_dir)
    # As Django's tests/runtests.py: its deprecation warnings are errors.
    import mailproviders

    for category in (mailproviders.MailProvidersDeprecationWarning, ResourceWarning):
        warnings.simplefilter("error", category)
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3"}},
        SECRET_KEY="django_tests_secret_key",
        USE_TZ=False,
        INSTALLED_APPS=[],
    )
    install_shim()
    translate_expected_messages()
    django.setup()
    from django.test.signals import setting_changed
    from django.test.utils import setup_test_environment

    setup_test_environment()
    mirror_settings()
    setting_changed.connect(mirror_settings)
    try:
        suite = unittest.defaultTestLoader.loadTestsFromName(f"mail.{module}")
    except Exception as exc:
        import traceback

        detail = "".join(traceback.format_exception(exc))
        with open(out, "w") as stream:
            json.dump({f"mail.{module}": {"outcome": "fail", "detail": detail}}, stream)
        return 1
    runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=0, stream=sys.stderr)
    result = runner.run(suite)
    with open(out, "w") as stream:
        json.dump(result.outcomes, stream, indent=1)  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())

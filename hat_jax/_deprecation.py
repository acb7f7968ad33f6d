"""Renamed and moved public names (CHANGELOG.md, 0.2): the old spelling keeps working for
a release, with a DeprecationWarning that names the new one.

Written by hand: the standard library has ``warnings.deprecated`` only for whole
objects (Python 3.13), not for a renamed keyword or a module attribute that moved.
"""

from __future__ import annotations

import functools
import importlib
import warnings

__all__ = ["renamed_keywords", "moved_names", "warn_renamed"]


def warn_renamed(old: str, new: str) -> None:
    """The DeprecationWarning of a renamed name, pointed at the caller of the function
    (or property) that calls this."""
    warnings.warn(f"{old} is now {new}; use the new name (the old one goes in a later "
                  "release)", DeprecationWarning, stacklevel=3)


_warn = warn_renamed


def renamed_keywords(**old_to_new: str):
    """Decorator: ``f(old=x)`` is ``f(new=x)`` with a DeprecationWarning (both: TypeError)."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= (the old name) "
                                        f"and {new}=")
                    _warn(f"{fn.__name__}({old}=...)", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return inner
    return wrap


def moved_names(module: str, moved: dict[str, str]):
    """A module ``__getattr__``: ``module.old`` resolves to ``moved[old]`` (a dotted
    ``package.module.name`` or a bare name of ``module``) with a DeprecationWarning."""
    def __getattr__(name: str):
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target = moved[name]
        home, _, new = target.rpartition(".")
        _warn(f"{module}.{name}", target if home else f"{module}.{new}")
        return getattr(importlib.import_module(home or module), new)
    return __getattr__

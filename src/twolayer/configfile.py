"""--config FILE: a command's options from a TOML or JSON file (a run's own config.json is one).

Keys are setting names (``learning_rate``) or the flags without dashes (``lr``, ``batch-size``);
a ``train`` table is read as top-level keys, so ``config.json`` of a run reads as it is written.
Options typed on the command line win over the file. Every mistake is one line naming the file.
"""

from __future__ import annotations

import sys

from .errors import InputError
from .io import json_object, read_text
from .settings import FLAGS, RULES, RunSettings

IGNORED = {
    "fingerprint",
    "auto",
}  # written into a run's config.json (for --resume, the report), not options


def read_config(path):
    """{key: value} of a TOML (.toml) or JSON file, its ``train`` table flattened."""
    text = read_text(path, "configuration")
    if str(path).lower().endswith(".toml"):
        data = _toml(text, path)
    else:
        data = json_object(text, f"{path}:")
    flat = {k: v for k, v in data.items() if k != "train"}
    train = data.get("train", {})
    if not isinstance(train, dict):
        raise InputError(f"{path}: 'train' must be a table of training settings")
    for k, v in train.items():
        if k in flat:
            raise InputError(f"{path}: {k!r} is given twice (at the top and in 'train')")
        flat[k] = v
    return flat


def _toml(text, path):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10: the tomli dependency
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e})") from None


def option_defaults(path, params):
    """The file's values keyed by the command's parameter names (``params``: name -> flag), for
    Click's default_map. A key that is no option of the command is refused unless it only restates
    the setting's default (a run's config.json holds settings no command line sets)."""
    spelled = {_key(flag): name for name, flag in params.items()}
    spelled.update({name: name for name in params})
    spelled.update({_key(FLAGS[name]): name for name in FLAGS if name in params})
    defaults = _setting_defaults()
    out = {}
    for key, value in read_config(path).items():
        if key in IGNORED:
            continue
        name = spelled.get(_key(key)) or spelled.get(key)
        if name is None:
            if key in defaults and defaults[key] == value:
                continue
            what = "a setting this command has no option for" if key in RULES else "not a setting"
            raise InputError(f"{path}: {key!r} is {what}")
        if name == "patience" and value is None:  # the setting's None is the option's 0: off
            value = 0
        out[name] = value
    return out


def _key(text):
    return text.lstrip("-").replace("-", "_")


def _setting_defaults():
    d = RunSettings().to_dict()
    return {**{k: v for k, v in d.items() if k != "train"}, **d["train"]}

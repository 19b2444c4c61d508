#!/usr/bin/env python3
"""Fails when libamphora.so exports more or less than the API: every C function that
include/amphora/amphora.h declares, under the C ABI's version node, and C++ symbols of names the
public headers declare, under the C++ API's node -- nothing of amphora's internals (an Impl, a
kernel, fail<...>) and nothing of the libraries linked into it (protobuf, ONNX, fmt, oneDNN).
Given the static library too, every C++ API function it defines out of line must be exported,
so that a class added to the headers but not to cmake/libamphora.map.in fails here.

Usage: check_exports.py LIBAMPHORA_SO INCLUDE_DIR [LIBAMPHORA_A]   (INCLUDE_DIR: include/amphora)
"""
import pathlib
import re
import subprocess
import sys

# The namespaces inside amphora:: that the public headers use.
NAMESPACES = ("audio", "text")
SPECIAL = ("typeinfo name for ", "typeinfo for ", "vtable for ")
# A few the C++ API cannot do without, so that an empty C++ export list fails too.
REQUIRED_CXX = ("amphora::Model::load(", "amphora::Vocoder::load(", "amphora::Synthesizer::speak(",
                "amphora::Tensor::Tensor(", "typeinfo for amphora::Error")


def exported(library):
    """(name, version) of each dynamic symbol the library defines, version definitions aside."""
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[-2] == "A":
            continue
        name, _, version = parts[-1].partition("@")
        symbols.append((name, version.lstrip("@")))
    return symbols


def defined_out_of_line(archive):
    """Mangled names of the global functions and data an archive defines strongly: what a
    program cannot make from the headers itself (inline and template code it can)."""
    out = subprocess.run(["nm", "--defined-only", "-g", archive], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            names.add(parts[2])
    return names


def demangle(names):
    if not names:
        return []
    out = subprocess.run(["c++filt"], input="\n".join(names), check=True, capture_output=True,
                         text=True).stdout
    return out.splitlines()


def public_names(include_dir):
    """Identifiers the public C++ headers declare: (types, functions)."""
    types, functions = set(), set()
    for header in include_dir.glob("*.hpp"):
        text = header.read_text()
        types.update(re.findall(r"\b(?:class|struct|enum class)\s+(\w+)", text))
        functions.update(re.findall(r"\b(\w+)\s*\(", text))
    return types, functions


def qualified_name(symbol):
    for prefix in SPECIAL:
        if symbol.startswith(prefix):
            symbol = symbol[len(prefix):]
    return re.split(r"[(<\[]", symbol, maxsplit=1)[0].split("::")


def is_public(symbol, allowed):
    """amphora[::audio|::text]::Type::member or amphora[::audio|::text]::function, of a type or a
    function the headers declare; not an Impl's member. Any other scope (amphora::stream::) is
    internal, whatever its name."""
    types, functions = allowed
    parts = qualified_name(symbol)
    if parts[0] != "amphora" or "Impl" in parts:
        return False
    rest = parts[1:]
    if len(rest) > 1 and rest[0] in NAMESPACES:
        rest = rest[1:]
    return rest[0] in types if len(rest) > 1 else bool(rest) and rest[0] in functions


def main():
    library, include_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    header = (include_dir / "amphora.h").read_text()
    c_api = set(re.findall(r"AMPHORA_EXPORT[^;{]*?\b(amphora_\w+)\s*\(", header))
    abi = re.search(r"#define AMPHORA_ABI_VERSION (\d+)", header).group(1)
    allowed = public_names(include_dir)

    symbols = exported(library)
    c_symbols = [(n, v) for n, v in symbols if not n.startswith("_Z")]
    cxx_symbols = [(n, v) for n, v in symbols if n.startswith("_Z")]
    problems = []

    c_names = {n for n, _ in c_symbols}
    problems += [f"{n}: declared in amphora.h, not exported" for n in sorted(c_api - c_names)]
    problems += [f"{n}: exported, not in amphora.h" for n in sorted(c_names - c_api)]
    problems += [f"{n}: version {v or 'none'}, expected AMPHORA_{abi}"
                 for n, v in c_symbols if v != f"AMPHORA_{abi}"]

    demangled = demangle([n for n, _ in cxx_symbols])
    for (name, version), symbol in zip(cxx_symbols, demangled):
        if not is_public(symbol, allowed):
            problems.append(f"{symbol}: not part of the public API")
        elif not version.startswith("AMPHORA_CXX_"):
            problems.append(f"{symbol}: version {version or 'none'}, expected AMPHORA_CXX_*")
    if len(sys.argv) > 3:
        candidates = sorted(n for n in defined_out_of_line(sys.argv[3]) if n.startswith("_Z"))
        exported_names = {n for n, _ in cxx_symbols}
        for name, symbol in zip(candidates, demangle(candidates)):
            if is_public(symbol, allowed) and name not in exported_names:
                problems.append(f"{symbol}: part of the C++ API, not exported "
                                "(cmake/libamphora.map.in)")
    for required in REQUIRED_CXX:
        if not any(symbol.startswith(required) for symbol in demangled):
            problems.append(f"{required}...: not exported")

    for problem in problems[:40]:
        print(problem)
    if len(problems) > 40:
        print(f"... and {len(problems) - 40} more")
    print(f"{library}: {len(c_symbols)} C and {len(cxx_symbols)} C++ symbols exported, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

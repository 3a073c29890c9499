"""What every test would otherwise compute again, computed once per test process.

Each test gets its own app, but the parts of an app that are the same every time are pure
functions of their inputs, so the harness keeps their results:

- a password hash: scrypt is slow on purpose (a fifth of a second), and a test run hashes the same
  few passwords thousands of times. Hashing stays werkzeug's own, with its default method; only the
  salt is fixed for the process, so a password hashes to the same value every time, and the
  (method, salt, password) -> hash function is remembered;
- a URL builder: werkzeug compiles Python code for each route of each new app's URL map;
- a compiled template: each app's Jinja environment compiles the same templates again;
- a rule file's book: most tests open a bank with one of a few rule files.

`install()` is called once, from the root conftest, before any app is made.
"""
from __future__ import annotations

import functools

from jinja2.bccache import BytecodeCache


def install() -> None:
    _password_hashes()
    _url_builders()
    _templates()
    _rule_files()


def _password_hashes() -> None:
    from werkzeug import security

    salts: dict[int, str] = {}
    real_gen_salt = security.gen_salt

    def gen_salt(length: int) -> str:
        if length not in salts:
            salts[length] = real_gen_salt(length)
        return salts[length]

    security.gen_salt = gen_salt
    security._hash_internal = functools.cache(security._hash_internal)


def _url_builders() -> None:
    """Remember how each rule string parses, and each rule's compiled builder.

    A rule string parses to the same parts under the same converters (the parts' patterns and
    weights come from the converter classes and the arguments written in the string); the rule
    still gets converters of its own, made by its own map, and its trace, as parsing gives them.

    A builder's code depends on the rule's trace, the names of its defaults and whether unknown
    arguments are appended; it reaches the rule's converters through the `self` it is bound to,
    so one function serves the same rule in every app. A default that fills a part of the rule is
    baked into the code through its converter, so such a rule's builder is not remembered.
    """
    from werkzeug.routing.rules import Rule

    real_parse, real_compile = Rule._parse_rule, Rule._compile_builder
    parsed: dict[tuple, tuple] = {}
    builders: dict[tuple, object] = {}

    def parse_rule(self, rule):
        key = (rule, tuple(sorted(self.map.converters.items())))
        if key not in parsed:
            made, start = [], len(self._trace)

            def get_converter(variable, name, args, kwargs):
                made.append((variable, name, args, kwargs))
                return Rule.get_converter(self, variable, name, args, kwargs)

            self.get_converter = get_converter
            try:
                parts = list(real_parse(self, rule))
            finally:
                del self.get_converter
            parsed[key] = (parts, self._trace[start:], made)
            return iter(parts)
        parts, trace, made = parsed[key]
        self._trace.extend(trace)
        for variable, name, args, kwargs in made:
            self._converters[variable] = self.get_converter(variable, name, args, kwargs)
            self.arguments.add(variable)
        return iter(parts)

    def compile_builder(self, append_unknown=True):
        defaults = self.defaults or {}
        if any(dynamic and data in defaults for dynamic, data in self._trace):
            return real_compile(self, append_unknown)
        key = (self.rule, append_unknown, tuple(self._trace), tuple(defaults))
        if key not in builders:
            builders[key] = real_compile(self, append_unknown)
        return builders[key]

    Rule._parse_rule = parse_rule
    Rule._compile_builder = compile_builder


class _MemoryBytecode(BytecodeCache):
    """Compiled templates kept in memory; Jinja checks each against its source's checksum."""

    def __init__(self):
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


def _templates() -> None:
    """Every app's Jinja environment shares one bytecode cache (the apps' options are the same)."""
    from flask import Flask

    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _MemoryBytecode()}


def _rule_files() -> None:
    """A rule file's text reads to the same rule book every time: the ledger already keeps the
    books of stored versions by content hash, and the harness keeps those of every text it reads.
    A file with problems is read again each time (an exception is never remembered)."""
    import rules
    from rules import loading

    loading.parse = rules.parse = functools.lru_cache(maxsize=256)(loading.parse)

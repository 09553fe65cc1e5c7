"""IAM-style policies, with JWT claims as variables, for session callers.

Policies are IAM identity-policy documents (``Version`` 2012-10-17, ``Statement``
with ``Sid``, ``Effect``, ``Action``/``NotAction``, ``Resource``/``NotResource``
and ``Condition``). Attachments give them to callers by the JWT's ``role`` claim,
optionally only when other claims have given values. :meth:`PolicySet.evaluate`
decides as IAM does: a Deny that applies wins, else an Allow that applies allows,
else the request is denied; a caller with no policy attached is denied.

Matching:

* actions ignore case (``s3:getobject`` is ``s3:GetObject``), resources do not;
  both take ``*`` (any run of characters, ``/`` included) and ``?`` (one
  character). Nothing else is special: ``[`` is a plain character.
* ``${jwt:sub}`` and ``${jwt:app_metadata.tenant}`` (a dot walks into an object;
  a claim whose own name holds dots is found too) stand for claims in resources
  and condition values; ``${*}``, ``${?}`` and ``${$}`` are a literal ``*``, ``?``
  and ``$``. A claim's value is always literal: a ``sub`` of ``*`` matches only the
  key segment ``*``.
* A claim can fill a variable only if it is a string or a number that is not
  empty, not ``.`` or ``..``, and holds no ``/`` and no control character.
  Otherwise the variable has no value, and the statement fails closed: an Allow
  does not apply, a Deny does. It never becomes an empty string, which would turn
  ``bucket/${jwt:sub}/*`` into ``bucket//*``; and no claim can reach into another
  folder with ``a/../b``.
* Resources are matched against the key exactly as the store receives it. The
  proxy never normalises a key, and S3 keys are literal, so ``A/../B/x`` is a key
  under ``A/``, allowed by a policy for ``A/*``; it is not ``B/x``.

Conditions: ``String(Not)Equals(IgnoreCase)``, ``String(Not)Like``,
``Numeric(Not)Equals``, ``Numeric(Less|Greater)Than(Equals)``, ``Bool`` and
``Null``, the first ones also with ``IfExists`` and with the set prefixes
``ForAnyValue:`` and ``ForAllValues:``; several values of one key are
alternatives, several keys and operators must all hold. Keys are ``jwt:<claim>``
(from the claims; a list claim is a set of values) and the request keys in
:data:`CONTEXT_KEYS`, which the caller of :meth:`PolicySet.evaluate` supplies. As
in IAM, a key that is absent makes a condition false, except under a negated
operator (``StringNotEquals``...), ``...IfExists`` and ``ForAllValues:``, where it
makes it true. Policies should only test claims that the token's issuer sets
(Supabase's ``app_metadata``, never ``user_metadata``, which users can edit).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

__all__ = [
    "CONTEXT_KEYS",
    "VERSION",
    "Decision",
    "PolicyError",
    "PolicySet",
    "PolicyStatement",
    "wildcard_match",
]

VERSION = "2012-10-17"
# Request condition keys, as operations.Operation.condition_context supplies them.
CONTEXT_KEYS = frozenset(
    {"s3:prefix", "s3:delimiter", "s3:max-keys", "s3:versionid", "s3:x-amz-copy-source"}
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    statement: str | None


class PolicyError(ValueError):
    """Policies or attachments that cannot be loaded; one message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


# --- patterns --------------------------------------------------------------------


class _Wild(enum.Enum):
    ANY = "*"
    ONE = "?"


_Unit = str | _Wild  # one character, or a wildcard
_Piece = str | _Wild  # literal text, or a wildcard


@dataclass(frozen=True)
class _Glob:
    """A pattern of literal text, ``*`` and ``?``, matched without backtracking.

    The runs between stars have a fixed length, so the first must start the text,
    the last must end it and the middle ones are found leftmost first, which is
    enough for ``*``: matching takes time linear in the text for each run.
    """

    runs: tuple[re.Pattern[str], ...]
    lengths: tuple[int, ...]

    def matches(self, text: str) -> bool:
        if len(self.runs) == 1:
            return self.runs[0].fullmatch(text) is not None
        end = len(text) - self.lengths[-1]
        if end < self.lengths[0] or not self.runs[0].match(text):
            return False
        position = self.lengths[0]
        for run in self.runs[1:-1]:
            found = run.search(text, position, end)
            if found is None:
                return False
            position = found.end()
        return self.runs[-1].fullmatch(text, end) is not None


@lru_cache(maxsize=4096)
def _compile(pieces: tuple[_Piece, ...]) -> _Glob:
    runs: list[list[str]] = [[]]
    for unit in _units(pieces):
        if unit is _Wild.ANY:
            runs.append([])
        else:
            runs[-1].append("." if unit is _Wild.ONE else re.escape(unit))
    return _Glob(
        tuple(re.compile("".join(run), re.DOTALL) for run in runs),
        tuple(len(run) for run in runs),
    )


def _units(pieces: Iterable[_Piece]) -> list[_Unit]:
    return [
        u for piece in pieces for u in (piece if isinstance(piece, str) else [piece])
    ]


def _wildcards(text: str) -> tuple[_Piece, ...]:
    """``text`` with every ``*`` and ``?`` a wildcard."""
    return tuple(_Wild(c) if c in "*?" else c for c in text)


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``, where only ``*`` and ``?`` are special."""
    return _compile(_wildcards(pattern)).matches(text)


@lru_cache(maxsize=4096)
def _intersects(a: tuple[_Unit, ...], b: tuple[_Unit, ...]) -> bool:
    """Whether some text matches both patterns (dynamic programming, no recursion)."""
    n, m = len(a), len(b)
    below = [False] * (m + 1)  # row i + 1: does a[i+1:] meet b[j:]?
    for i in range(n, -1, -1):
        row = [False] * (m + 1)
        for j in range(m, -1, -1):
            row[j] = _meets(a, b, i, j, row, below)
        below = row
    return below[0]


def _meets(
    a: Sequence[_Unit],
    b: Sequence[_Unit],
    i: int,
    j: int,
    row: list[bool],
    below: list[bool],
) -> bool:
    a_open, b_open = i < len(a), j < len(b)
    if not a_open and not b_open:
        return True
    if a_open and a[i] is _Wild.ANY:
        return below[j] or (b_open and row[j + 1])
    if b_open and b[j] is _Wild.ANY:
        return row[j + 1] or (a_open and below[j])
    if not (a_open and b_open):
        return False
    one = _Wild.ONE in (a[i], b[j])
    return (one or a[i] == b[j]) and below[j + 1]


def _can_start_with(pattern: Sequence[_Unit], prefix: str) -> bool:
    """Whether some text that matches ``pattern`` starts with ``prefix``.

    Up to its first star the pattern has fixed-length units, which must agree
    with the prefix; past the star anything can follow.
    """
    star = next((i for i, u in enumerate(pattern) if u is _Wild.ANY), len(pattern))
    fixed = min(star, len(prefix))
    agree = all(pattern[i] in (_Wild.ONE, prefix[i]) for i in range(fixed))
    return agree and (len(prefix) <= star or star < len(pattern))


# --- claims ----------------------------------------------------------------------

_MISSING = object()
_UNSAFE = re.compile(r"[/\x00-\x1f\x7f]")


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at ``path``; a dot steps into an object. ``_MISSING`` if absent."""
    if path in claims:
        return claims[path]
    for dot in reversed([i for i, c in enumerate(path) if c == "."]):
        inner = claims.get(path[:dot])
        if isinstance(inner, Mapping):
            found = _claim(inner, path[dot + 1 :])
            if found is not _MISSING:
                return found
    return _MISSING


def _substitution(claims: Mapping[str, Any], path: str) -> str | None:
    """The text a claim puts in place of its variable, or None if it may not."""
    value = _claim(claims, path)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = value if isinstance(value, str) else str(value)
    if text in {"", ".", ".."} or _UNSAFE.search(text):
        return None
    return text


def _claim_values(claims: Mapping[str, Any], path: str) -> list[str] | None:
    """A claim as condition values (a list claim is several), None if absent."""
    value = _claim(claims, path)
    items = value if isinstance(value, list | tuple) else [value]
    values = [_scalar_text(item) for item in items]
    present = [text for text in values if text is not None]
    return present or None


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


# --- templates: text with variables ----------------------------------------------


@dataclass(frozen=True)
class _Variable:
    path: str  # the claim, after "jwt:"


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_CLAIM_PATH = re.compile(r"jwt:([^\s{}$,'\"]+)")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class _Template:
    """Policy text with ``${...}`` variables, filled from the claims per request."""

    pieces: tuple[_Piece | _Variable, ...]

    @classmethod
    def parse(cls, text: str, wildcards: bool) -> _Template:
        """Raise ValueError naming the first bad variable."""
        pieces: list[_Piece | _Variable] = []
        position = 0
        for variable in _VARIABLE.finditer(text):
            pieces += _literal(text[position : variable.start()], wildcards)
            pieces.append(_parse_variable(variable.group(0), variable.group(1)))
            position = variable.end()
        pieces += _literal(text[position:], wildcards)
        return cls(tuple(pieces))

    @property
    def has_variables(self) -> bool:
        return any(isinstance(piece, _Variable) for piece in self.pieces)

    def render(self, claims: Mapping[str, Any]) -> tuple[_Piece, ...] | None:
        rendered: list[_Piece] = []
        for piece in self.pieces:
            if isinstance(piece, _Variable):
                value = _substitution(claims, piece.path)
                if value is None:
                    return None
                piece = value
            rendered.append(piece)
        return tuple(rendered)

    def glob(self, claims: Mapping[str, Any]) -> _Glob | None:
        rendered = self.render(claims)
        return None if rendered is None else _compile(rendered)

    def text(self, claims: Mapping[str, Any]) -> str | None:
        rendered = self.render(claims)
        return None if rendered is None else "".join(map(str, rendered))


def _literal(text: str, wildcards: bool) -> tuple[_Piece, ...]:
    if "${" in text:
        raise ValueError(f'"${{" without a closing "}}" in "{text}"')
    return _wildcards(text) if wildcards else ((text,) if text else ())


def _parse_variable(whole: str, inner: str) -> _Piece | _Variable:
    if inner in _ESCAPES:
        return _ESCAPES[inner]
    path = _CLAIM_PATH.fullmatch(inner)
    if path is None:
        raise ValueError(
            f'unknown variable "{whole}": '
            "use ${jwt:<claim>}, ${*}, ${?} or ${$}"
        )
    return _Variable(path.group(1))


# --- conditions ------------------------------------------------------------------


def _numeric(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[Any, str], bool]:
    def matches(expected: Any, actual: str) -> bool:
        try:
            return compare(Decimal(actual), Decimal(expected))
        except InvalidOperation:
            return False

    return matches


# Positive operators: (policy value, request value) -> whether they match.
_COMPARISONS: dict[str, Callable[[Any, str], bool]] = {
    "StringEquals": lambda expected, actual: bool(expected == actual),
    "StringEqualsIgnoreCase": lambda expected, actual: (
        str(expected).casefold() == actual.casefold()
    ),
    "StringLike": lambda expected, actual: bool(expected.matches(actual)),
    "NumericEquals": _numeric(lambda actual, expected: actual == expected),
    "NumericLessThan": _numeric(lambda actual, expected: actual < expected),
    "NumericLessThanEquals": _numeric(lambda actual, expected: actual <= expected),
    "NumericGreaterThan": _numeric(lambda actual, expected: actual > expected),
    "NumericGreaterThanEquals": _numeric(lambda actual, expected: actual >= expected),
    "Bool": lambda expected, actual: str(expected).lower() == actual.lower(),
}
# Every operator name: its positive form, and whether it is negated.
_OPERATORS: dict[str, tuple[str, bool]] = {
    **{name: (name, False) for name in _COMPARISONS},
    "StringNotEquals": ("StringEquals", True),
    "StringNotEqualsIgnoreCase": ("StringEqualsIgnoreCase", True),
    "StringNotLike": ("StringLike", True),
    "NumericNotEquals": ("NumericEquals", True),
    "Null": ("Null", False),
}
_QUANTIFIERS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class _Condition:
    operator: str  # the positive form: StringEquals for StringNotEqualsIfExists
    negated: bool
    if_exists: bool
    quantifier: str  # "", "ForAnyValue" or "ForAllValues"
    key: str
    values: tuple[_Template, ...]

    @property
    def is_on_claims(self) -> bool:
        return self.key.lower().startswith("jwt:")

    def holds(
        self, claims: Mapping[str, Any], context: Mapping[str, Any]
    ) -> bool | None:
        """Whether it holds; None when a variable in its values has no value."""
        actual = self._actual(claims, context)
        if self.operator == "Null":
            return any(
                (actual is None) == (v.text(claims) == "true") for v in self.values
            )
        if actual is None:
            absent_holds = self.negated and not self.quantifier
            return self.if_exists or self.quantifier == "ForAllValues" or absent_holds
        expected = [self._expected(template, claims) for template in self.values]
        if any(value is None for value in expected):
            return None
        results = [self._matches(expected, value) for value in actual]
        every = self.quantifier == "ForAllValues" or (
            self.negated and not self.quantifier
        )
        return all(results) if every else any(results)

    def _actual(
        self, claims: Mapping[str, Any], context: Mapping[str, Any]
    ) -> list[str] | None:
        if self.is_on_claims:
            return _claim_values(claims, self.key[4:])
        value = context.get(self.key.lower())
        if value is None:
            return None
        values = list(value) if isinstance(value, list | tuple) else [value]
        return [str(v) for v in values] or None

    def _expected(self, template: _Template, claims: Mapping[str, Any]) -> Any:
        return (
            template.glob(claims)
            if self.operator == "StringLike"
            else template.text(claims)
        )

    def _matches(self, expected: list[Any], actual: str) -> bool:
        compare = _COMPARISONS[self.operator]
        matched = any(compare(value, actual) for value in expected)
        return matched != self.negated


# --- statements ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyStatement:
    """One parsed statement, labelled ``<policy>/<Sid>`` or ``<policy>/#<index>``."""

    label: str
    allow: bool
    actions: tuple[tuple[_Piece, ...], ...]  # lower-cased patterns
    not_action: bool
    resources: tuple[_Template, ...]
    not_resource: bool
    conditions: tuple[_Condition, ...]

    def applies(
        self,
        claims: Mapping[str, Any],
        action: str,
        resource: str,
        context: Mapping[str, Any],
    ) -> bool | None:
        """Whether it applies; None when it would, but a variable has no value."""
        if not self._covers_action(action.lower()):
            return False
        outcomes = [self._covers_resource(claims, resource)]
        outcomes += [condition.holds(claims, context) for condition in self.conditions]
        if False in outcomes:
            return False
        return None if None in outcomes else True

    def _covers_action(self, action: str) -> bool:
        matched = any(_compile(pattern).matches(action) for pattern in self.actions)
        return matched != self.not_action

    def _covers_resource(self, claims: Mapping[str, Any], resource: str) -> bool | None:
        globs = [template.glob(claims) for template in self.resources]
        if any(glob is not None and glob.matches(resource) for glob in globs):
            return not self.not_resource
        return None if None in globs else self.not_resource

    def could_allow(
        self, claims: Mapping[str, Any], actions: Sequence[tuple[_Unit, ...]], arn: str
    ) -> bool:
        """Whether it might allow one of ``actions`` on bucket ``arn`` or inside it.

        Negated actions and resources count as possibly matching; conditions on
        claims are decided, conditions on the request count as possibly true.
        """
        return (
            self.allow
            and self._may_cover_bucket(claims, arn)
            and (self.not_action or self._may_cover_action(actions))
            and all(
                condition.holds(claims, {}) is True
                for condition in self.conditions
                if condition.is_on_claims
            )
        )

    def _may_cover_action(self, actions: Sequence[tuple[_Unit, ...]]) -> bool:
        mine = [tuple(_units(pattern)) for pattern in self.actions]
        return any(_intersects(a, b) for a in mine for b in actions)

    def _may_cover_bucket(self, claims: Mapping[str, Any], arn: str) -> bool:
        rendered = [template.render(claims) for template in self.resources]
        patterns = [pieces for pieces in rendered if pieces is not None]
        return bool(patterns) and (
            self.not_resource
            or any(
                _compile(pattern).matches(arn)
                or _can_start_with(_units(pattern), f"{arn}/")
                for pattern in patterns
            )
        )


# --- loading and validation --------------------------------------------------------

_POLICY_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_ACTION = re.compile(r"\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+")
_ARN = re.compile(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:.+", re.DOTALL)
_ATTACHMENT_FIELDS = frozenset({"roles", "claims", "policies"})


class _Problems:
    """Collects every problem, each prefixed by where it was found."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.messages.append(f"{where}: {message}")


def _strings(value: Any) -> list[str] | None:
    """A string or a non-empty list of strings, as a list; None if it is neither."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return None
    return items if all(isinstance(item, str) for item in items) else None


def _parse_policy(
    name: str, document: Any, problems: _Problems
) -> tuple[PolicyStatement, ...]:
    where = f'policy "{name}"'
    if not isinstance(document, Mapping):
        problems.add(where, "must be a mapping with Version and Statement")
        return ()
    for field in sorted(set(document) - _POLICY_FIELDS):
        problems.add(where, f'unknown field "{field}"')
    if document.get("Version", VERSION) != VERSION:
        problems.add(where, f'Version must be "{VERSION}", not {document["Version"]!r}')
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        problems.add(where, "Statement must be a statement or a list of them")
        return ()
    parsed = [_parse_statement(name, i, s, problems) for i, s in enumerate(statements)]
    _check_sids(where, statements, problems)
    return tuple(statement for statement in parsed if statement is not None)


def _check_sids(where: str, statements: list[Any], problems: _Problems) -> None:
    sids = [s.get("Sid") for s in statements if isinstance(s, Mapping) and "Sid" in s]
    for sid in sorted({sid for sid in sids if sids.count(sid) > 1}, key=str):
        problems.add(where, f"Sid {sid!r} is used twice")


def _parse_statement(
    policy: str, index: int, statement: Any, problems: _Problems
) -> PolicyStatement | None:
    where = f'policy "{policy}" statement #{index}'
    if not isinstance(statement, Mapping):
        problems.add(where, "must be a mapping")
        return None
    sid = statement.get("Sid")
    if sid is not None:
        where += f" ({sid!r})"
    before = len(problems.messages)
    _check_statement_fields(where, statement, problems)
    actions, not_action = _parse_actions(where, statement, problems)
    resources, not_resource = _parse_resources(where, statement, problems)
    conditions = _parse_conditions(where, statement.get("Condition", {}), problems)
    if len(problems.messages) > before:
        return None
    label = f"{policy}/{sid}" if sid else f"{policy}/#{index}"
    allow = statement["Effect"] == "Allow"
    return PolicyStatement(
        label, allow, actions, not_action, resources, not_resource, conditions
    )


def _check_statement_fields(
    where: str, statement: Mapping[str, Any], problems: _Problems
) -> None:
    for field in sorted(set(statement) - _STATEMENT_FIELDS):
        hint = " (attach policies to roles instead)" if "Principal" in field else ""
        problems.add(where, f'unknown field "{field}"{hint}')
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        problems.add(where, "Sid must be a string")
    if statement.get("Effect") not in {"Allow", "Deny"}:
        problems.add(
            where, f'Effect must be "Allow" or "Deny", not {statement.get("Effect")!r}'
        )


def _one_of(
    where: str, statement: Mapping[str, Any], field: str, problems: _Problems
) -> tuple[list[str], bool]:
    """The values of ``field`` or ``Not<field>``, and whether it was the Not form."""
    present = [name for name in (field, f"Not{field}") if name in statement]
    if len(present) != 1:
        problems.add(where, f"needs exactly one of {field} and Not{field}")
        return [], False
    values = _strings(statement[present[0]])
    if values is None:
        problems.add(where, f"{present[0]} must be a string or a list of strings")
        return [], False
    return values, present[0] != field


def _parse_actions(
    where: str, statement: Mapping[str, Any], problems: _Problems
) -> tuple[tuple[tuple[_Piece, ...], ...], bool]:
    actions, negated = _one_of(where, statement, "Action", problems)
    for action in actions:
        if not _ACTION.fullmatch(action):
            problems.add(where, f'action "{action}" is not "*" or "service:Action"')
    return tuple(_wildcards(action.lower()) for action in actions), negated


def _parse_resources(
    where: str, statement: Mapping[str, Any], problems: _Problems
) -> tuple[tuple[_Template, ...], bool]:
    resources, negated = _one_of(where, statement, "Resource", problems)
    for resource in resources:
        if resource != "*" and not _ARN.fullmatch(resource):
            problems.add(where, f'resource "{resource}" is not "*" or an ARN')
    templates = [_template(where, resource, True, problems) for resource in resources]
    return tuple(templates), negated


def _template(where: str, text: str, wildcards: bool, problems: _Problems) -> _Template:
    try:
        return _Template.parse(text, wildcards)
    except ValueError as error:
        problems.add(where, str(error))
        return _Template(())


def _parse_conditions(
    where: str, block: Any, problems: _Problems
) -> tuple[_Condition, ...]:
    if not isinstance(block, Mapping):
        problems.add(where, "Condition must map operators to {key: values}")
        return ()
    conditions: list[_Condition] = []
    for operator, tests in block.items():
        if not isinstance(tests, Mapping) or not tests:
            problems.add(where, f"Condition {operator} must map keys to values")
            continue
        for key, values in tests.items():
            condition = _parse_condition(where, operator, key, values, problems)
            conditions += [condition] if condition else []
    return tuple(conditions)


def _parse_condition(
    where: str, operator: str, key: str, values: Any, problems: _Problems
) -> _Condition | None:
    where = f"{where} Condition {operator} {key!r}"
    parsed = _parse_operator(str(operator))
    if parsed is None:
        problems.add(where, "unknown operator; known: " + ", ".join(sorted(_OPERATORS)))
        return None
    positive, negated, if_exists, quantifier = parsed
    if not _is_known_key(key):
        known = ", ".join(sorted(CONTEXT_KEYS))
        problems.add(where, f"unknown key; use jwt:<claim> or one of {known}")
    texts = _condition_texts(values)
    if texts is None:
        problems.add(where, "values must be strings, numbers or booleans")
        return None
    templates = [_template(where, t, positive == "StringLike", problems) for t in texts]
    _check_values(where, positive, texts, templates, problems)
    return _Condition(positive, negated, if_exists, quantifier, key, tuple(templates))


def _parse_operator(text: str) -> tuple[str, bool, bool, str] | None:
    """(positive operator, negated, if_exists, quantifier), or None if unknown."""
    quantifier, _, name = text.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if quantifier not in ("", *_QUANTIFIERS) or name not in _OPERATORS:
        return None
    if name == "Null" and (if_exists or quantifier):
        return None
    return (*_OPERATORS[name], if_exists, quantifier)


def _is_known_key(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    if key.lower().startswith("jwt:"):
        return len(key) > 4
    return key.lower() in CONTEXT_KEYS


def _condition_texts(values: Any) -> list[str] | None:
    items = values if isinstance(values, list) else [values]
    texts = [_scalar_text(item) for item in items]
    if not texts or None in texts:
        return None
    return [text for text in texts if text is not None]


def _check_values(
    where: str,
    operator: str,
    texts: list[str],
    templates: list[_Template],
    problems: _Problems,
) -> None:
    literal = [
        t
        for t, template in zip(texts, templates, strict=True)
        if not template.has_variables
    ]
    if operator.startswith("Numeric") and not all(_is_number(t) for t in literal):
        problems.add(where, "values must be numbers")
    if operator == "Bool" and not all(t.lower() in {"true", "false"} for t in literal):
        problems.add(where, 'values must be "true" or "false"')
    if operator == "Null" and (
        len(literal) < len(texts) or set(texts) - {"true", "false"}
    ):
        problems.add(where, 'values must be "true" or "false", without variables')


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


@dataclass(frozen=True)
class _Attachment:
    roles: frozenset[str]
    claims: tuple[tuple[str, tuple[Any, ...]], ...]  # claim path, accepted values
    policies: tuple[str, ...]

    def applies(self, claims: Mapping[str, Any]) -> bool:
        role = claims.get("role")
        return (
            isinstance(role, str)
            and role in self.roles
            and all(
                _claim_is_one_of(_claim(claims, path), accepted)
                for path, accepted in self.claims
            )
        )


def _claim_is_one_of(value: Any, accepted: tuple[Any, ...]) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(_same(v, a) for v in values for a in accepted)


def _same(value: Any, accepted: Any) -> bool:
    """Equal and of the same kind: ``True`` is not ``1``, and ``"1"`` is not ``1``."""
    return (
        _kind(value) is not None
        and _kind(value) == _kind(accepted)
        and value == accepted
    )


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    return "number" if isinstance(value, int | float) else None


def _parse_attachment(
    index: int, attachment: Any, known: Mapping[str, Any], problems: _Problems
) -> _Attachment | None:
    where = f"attachment #{index}"
    if not isinstance(attachment, Mapping):
        problems.add(where, "must be a mapping with roles and policies")
        return None
    before = len(problems.messages)
    for field in sorted(set(attachment) - _ATTACHMENT_FIELDS):
        problems.add(where, f'unknown field "{field}"')
    roles = _strings(attachment.get("roles"))
    if roles is None:
        problems.add(where, "roles must be a string or a non-empty list of strings")
    policies = _strings(attachment.get("policies"))
    if policies is None:
        problems.add(where, "policies must name one policy or more")
    for name in [name for name in policies or () if name not in known]:
        problems.add(where, f'policy "{name}" is not defined')
    claims = _parse_claim_tests(where, attachment.get("claims", {}), problems)
    if len(problems.messages) > before or roles is None or policies is None:
        return None
    return _Attachment(frozenset(roles), claims, tuple(policies))


def _parse_claim_tests(
    where: str, tests: Any, problems: _Problems
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(tests, Mapping):
        problems.add(where, "claims must map claim names to values")
        return ()
    parsed = []
    for path, accepted in tests.items():
        values = accepted if isinstance(accepted, list) else [accepted]
        if not values or any(_scalar_text(value) is None for value in values):
            problems.add(where, f'claim "{path}" must be a value or a list of values')
        parsed.append((str(path), tuple(values)))
    return tuple(parsed)


# --- the set of policies ---------------------------------------------------------


class PolicySet:
    """Named policies and the attachments that give them to callers."""

    def __init__(
        self,
        statements: Mapping[str, tuple[PolicyStatement, ...]],
        attachments: Sequence[_Attachment],
    ) -> None:
        self._statements = dict(statements)
        self._attachments = tuple(attachments)

    @classmethod
    def from_config(
        cls,
        policies: Mapping[str, Mapping[str, Any]],
        attachments: Sequence[Mapping[str, Any]],
    ) -> PolicySet:
        """Load policies and attachments; raise PolicyError listing every problem."""
        problems = _Problems()
        statements = {
            name: _parse_policy(name, document, problems)
            for name, document in policies.items()
        }
        parsed = [
            _parse_attachment(i, attachment, policies, problems)
            for i, attachment in enumerate(attachments)
        ]
        if problems.messages:
            raise PolicyError(problems.messages)
        return cls(statements, [a for a in parsed if a is not None])

    @classmethod
    def validate(
        cls,
        policies: Mapping[str, Mapping[str, Any]],
        attachments: Sequence[Mapping[str, Any]],
    ) -> list[str]:
        """Every problem in the configuration; empty when it loads."""
        try:
            cls.from_config(policies, attachments)
        except PolicyError as error:
            return list(error.problems)
        return []

    def policies_for(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of the policies attached to these claims, in configuration order."""
        names = [
            name
            for attachment in self._attachments
            if attachment.applies(claims)
            for name in attachment.policies
        ]
        return tuple(dict.fromkeys(names))

    def evaluate(
        self,
        claims: Mapping[str, Any],
        action: str,
        resource: str,
        context: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Decision:
        """Decide whether the caller with ``claims`` may do ``action`` on ``resource``.

        ``context`` holds the request's condition keys (:data:`CONTEXT_KEYS`);
        ``jwt:`` keys always come from the claims.
        """
        statements = self._statements_for(claims)
        if not statements:
            return Decision(False, "no policy is attached to these claims", None)
        request = {key.lower(): value for key, value in (context or {}).items()}
        applying = [
            (s, s.applies(claims, action, resource, request)) for s in statements
        ]
        for statement, applies in applying:
            if not statement.allow and applies is not False:
                return _decision(False, "denied by", statement, applies)
        for statement, applies in applying:
            if statement.allow and applies:
                return _decision(True, "allowed by", statement, applies)
        return Decision(False, "no statement allowed it", None)

    def allows_any(
        self, claims: Mapping[str, Any], actions: str | Iterable[str], bucket: str
    ) -> bool:
        """Whether any attached Allow might apply to the bucket or an object in it.

        For listing only the buckets a caller can use at all: ``actions`` are
        patterns (``"s3:*"``, ``["s3:ListBucket", "s3:GetObject"]``); an Allow
        counts if one of its actions can meet one of them and one of its resources
        can meet ``arn:aws:s3:::bucket`` or ``arn:aws:s3:::bucket/*``. Conditions
        on claims are decided, conditions on the request are taken as possibly
        true, NotAction and NotResource as possibly matching. Deny statements are
        ignored: they may cover only part of the bucket, so the caller's requests
        are still decided one by one by :meth:`evaluate`.
        """
        wanted = [actions] if isinstance(actions, str) else list(actions)
        patterns = [tuple(_units(_wildcards(action.lower()))) for action in wanted]
        return any(
            statement.could_allow(claims, patterns, f"arn:aws:s3:::{bucket}")
            for statement in self._statements_for(claims)
        )

    def _statements_for(self, claims: Mapping[str, Any]) -> list[PolicyStatement]:
        return [s for name in self.policies_for(claims) for s in self._statements[name]]


def _decision(
    allowed: bool, verb: str, statement: PolicyStatement, applies: bool | None
) -> Decision:
    unresolved = " (a claim it names is missing or unusable)" if applies is None else ""
    return Decision(allowed, f"{verb} {statement.label}{unresolved}", statement.label)

"""Authorization of session callers, request by request and object by object.

Full-access principals pass. Every other principal needs its policies to allow
each action the operation requires on the exact resource the store will
receive, the copy source's read for a copy, and delete on every key of a
``DeleteObjects`` body. Listings of buckets show only the buckets the caller
can use at all. Nothing here knows HTTP: bodies come in as bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from . import errors
from .identity import Principal
from .operations import Operation, resource_arn
from .policy import Decision, PolicySet

log = logging.getLogger("s3_auth_proxy.authorization")

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_XML_BYTES = 2 * 1024 * 1024
MAX_DELETE_KEYS = 1000
# The fields of an Object in a Delete request (conditional deletes included).
OBJECT_FIELDS = frozenset({"Key", "VersionId", "ETag", "LastModifiedTime", "Size"})


@dataclass(frozen=True)
class ObjectToDelete:
    """One ``Object`` of a ``Delete`` request: its fields, text only."""

    fields: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return dict(self.fields)["Key"]

    @property
    def version_id(self) -> str | None:
        return dict(self.fields).get("VersionId")


@dataclass(frozen=True)
class DeleteSplit:
    """A ``DeleteObjects`` request split into what may and may not go upstream."""

    allowed: list[ObjectToDelete]
    denied: list[ObjectToDelete]
    quiet: bool


class Authorizer:
    """Asks the policies about one principal's request."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies

    def authorize(self, principal: Principal, operation: Operation) -> None:
        """Refuse with ``AccessDenied`` unless every needed action is allowed."""
        if principal.full_access:
            return
        if operation.action is None:
            log.info("refused %s: not allowed for session callers", operation.name)
            raise errors.AccessDenied(
                f"The operation {operation.name} is not available to session callers."
            )
        context = operation.condition_context
        for action in operation.required_actions:
            self._require(principal, action, operation.resource_arn, context)
        source = operation.copy_source_arn
        if source is not None and operation.copy_source_action is not None:
            self._require(principal, operation.copy_source_action, source, {})

    def _require(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Mapping[str, str],
    ) -> None:
        decision = self.decide(principal, action, resource, context)
        if not decision.allowed:
            raise errors.AccessDenied()

    def decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Mapping[str, str] | None = None,
    ) -> Decision:
        """The policies' decision, logged with the statement that made it."""
        decision = self.policies.evaluate(principal.claims, action, resource, context)
        log.log(
            logging.DEBUG if decision.allowed else logging.INFO,
            "%s %s on %a for %s: %s",
            "allowed" if decision.allowed else "denied",
            action,
            resource,
            principal.describe(),
            decision.reason,
        )
        return decision

    def split_delete(
        self, principal: Principal, operation: Operation, document: bytes
    ) -> DeleteSplit:
        """Decide every key of a ``DeleteObjects`` body on its own.

        Each key needs the delete action and every extra action the request's
        headers call for (``s3:BypassGovernanceRetention``) on its own ARN.
        """
        objects, quiet = parse_delete(document)
        if principal.full_access:
            return DeleteSplit(objects, [], quiet)
        allowed, denied = [], []
        for item in objects:
            action = "s3:DeleteObjectVersion" if item.version_id else "s3:DeleteObject"
            arn = resource_arn(operation.bucket, item.key)
            actions = (action, *operation.extra_actions)
            if all(self.decide(principal, a, arn).allowed for a in actions):
                allowed.append(item)
            else:
                denied.append(item)
        return DeleteSplit(allowed, denied, quiet)

    def visible_buckets(self, principal: Principal, document: bytes) -> bytes:
        """A ``ListAllMyBucketsResult`` with only the buckets the caller can use."""
        if principal.full_access:
            return document
        root = parse_xml(document, "ListAllMyBucketsResult")
        for buckets in _children(root, "Buckets"):
            for bucket in _children(buckets, "Bucket"):
                name = _child_text(bucket, "Name") or ""
                if not self.policies.allows_any(principal.claims, "s3:*", name):
                    buckets.remove(bucket)
        return _serialise(root)


def delete_body(split: DeleteSplit) -> bytes:
    """The ``Delete`` document the store gets: the allowed objects, rewritten.

    The client's bytes never go on: the store reads exactly the fields that
    were authorized, whatever its XML parser would have made of the original.
    """
    root = ElementTree.Element(f"{{{S3_NAMESPACE}}}Delete")
    if split.quiet:
        ElementTree.SubElement(root, f"{{{S3_NAMESPACE}}}Quiet").text = "true"
    for item in split.allowed:
        element = ElementTree.SubElement(root, f"{{{S3_NAMESPACE}}}Object")
        for name, text in item.fields:
            ElementTree.SubElement(element, f"{{{S3_NAMESPACE}}}{name}").text = text
    return _serialise(root)


def delete_result(split: DeleteSplit, upstream_document: bytes | None) -> bytes:
    """The store's ``DeleteResult`` with an ``AccessDenied`` error per denied key."""
    if upstream_document is None:
        root = ElementTree.Element(f"{{{S3_NAMESPACE}}}DeleteResult")
    else:
        root = parse_xml(upstream_document, "DeleteResult")
    namespace = _namespace(root)
    for item in split.denied:
        error = ElementTree.SubElement(root, f"{namespace}Error")
        fields = {
            "Key": item.key,
            "VersionId": item.version_id,
            "Code": "AccessDenied",
            "Message": "Access Denied",
        }
        for name, text in fields.items():
            if text is not None:
                ElementTree.SubElement(error, f"{namespace}{name}").text = text
    return _serialise(root)


def parse_delete(document: bytes) -> tuple[list[ObjectToDelete], bool]:
    """The objects and the quiet flag of a ``Delete`` document, strictly.

    Every element must be one S3 defines, in S3's namespace or none, given
    once, with text only: anything a store might read differently is refused.
    """
    root = parse_xml(document, "Delete")
    objects, quiet = [], False
    for child in root:
        name = _s3_name(child)
        if name == "Object":
            objects.append(ObjectToDelete(_object_fields(child)))
        elif name == "Quiet" and not quiet:
            quiet = (_text_only(child) or "").strip().lower() == "true"
        else:
            raise errors.MalformedXML(f"Unexpected element {name} in Delete.")
    if not 1 <= len(objects) <= MAX_DELETE_KEYS:
        raise errors.MalformedXML(
            f"A Delete request names 1 to {MAX_DELETE_KEYS} objects."
        )
    return objects, quiet


def _object_fields(element: ElementTree.Element) -> tuple[tuple[str, str], ...]:
    fields: dict[str, str] = {}
    for child in element:
        name = _s3_name(child)
        if name not in OBJECT_FIELDS or name in fields:
            raise errors.MalformedXML(f"Unexpected element {name} in Object.")
        fields[name] = _text_only(child) or ""
    if not fields.get("Key"):
        raise errors.MalformedXML("Every Object of a Delete request needs a Key.")
    return tuple(fields.items())


def _s3_name(element: ElementTree.Element) -> str:
    tag = str(element.tag)
    namespace, name = ("", tag)
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
    if namespace not in ("", S3_NAMESPACE):
        raise errors.MalformedXML("Elements must be in the S3 namespace.")
    return name


def _text_only(element: ElementTree.Element) -> str | None:
    if len(element) or element.attrib:
        raise errors.MalformedXML(f"{_s3_name(element)} holds text only.")
    return element.text


def parse_xml(document: bytes, root_name: str) -> ElementTree.Element:
    """Parse an S3 XML document safely: bounded, and with no DTD at all.

    S3 documents never carry a document type declaration. A first pass of
    expat reports one whatever the document's encoding and stops there, so
    the tree is only built from documents that declare no entity at all.
    """
    if len(document) > MAX_XML_BYTES:
        raise errors.MalformedXML("The XML document is too large.")
    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = _refuse_doctype
    try:
        checker.Parse(document, True)
        root = ElementTree.fromstring(document)
    except (expat.ExpatError, ElementTree.ParseError) as error:
        raise errors.MalformedXML() from error
    if _local_name(root.tag) != root_name:
        raise errors.MalformedXML(f"The XML document's root must be {root_name}.")
    return root


def _refuse_doctype(*_: object) -> None:
    raise errors.MalformedXML("XML document type declarations are not accepted.")


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local_name(child.tag) == name]


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    found = _children(element, name)
    return found[0].text if found else None


def _local_name(tag: Any) -> str:
    return str(tag).rpartition("}")[2]


def _namespace(element: ElementTree.Element) -> str:
    tag = str(element.tag)
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def _serialise(root: ElementTree.Element) -> bytes:
    ElementTree.register_namespace("", S3_NAMESPACE)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body

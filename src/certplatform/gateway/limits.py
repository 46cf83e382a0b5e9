"""What a GraphQL document may cost before anything looks at it closely.

graphql-core's validation compares every pair of fields that share a response name, so a
few kilobytes of `id id id ...` cost it seconds, and fragments that spread each other twice
select 2^n fields from a document of n lines, all of which execution would resolve. These
checks run before validation, each in time linear in the document: its size, its tokens
(strawberry's `MaxTokensLimiter` cuts parsing off), its field count with fragments expanded
(memoised per fragment, so the count itself cannot explode) and how often one response name
repeats in one selection set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

MAX_DOCUMENT_BYTES = 32 * 1024  # a section of 50 aliased saves is about 7 KB
MAX_TOKENS = 4000  # for strawberry's MaxTokensLimiter: parsing stops there
MAX_FIELDS = 500  # fields selected, fragments expanded; the pages' documents select < 100
MAX_REPEATS = 10  # one response name in one selection set (fragments may overlap a little)


class DocumentLimits(SchemaExtension):
    """Refuses oversized or too costly documents with an error naming the limit."""

    def on_operation(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        size = len(query.encode())
        if size > MAX_DOCUMENT_BYTES:
            raise GraphQLError(
                f"The document is {size} bytes; at most {MAX_DOCUMENT_BYTES} are accepted.",
                extensions={"code": "document_too_large", "status": 413},
            )
        yield

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            _Cost(document.definitions).check()
        yield


@dataclass
class _Cost:
    definitions: object
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    # Per fragment: fields selected in total, and response names at its top level.
    memo: dict[str, tuple[int, Counter[str]]] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)

    def check(self) -> None:
        operations = []
        for definition in self.definitions:  # type: ignore[attr-defined]
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode):
                operations.append(definition)
        total = sum(self.selection(op.selection_set)[0] for op in operations)
        if total > MAX_FIELDS:
            raise GraphQLError(
                f"The document selects {total} fields (fragments expanded); "
                f"at most {MAX_FIELDS} are accepted.",
                extensions={"code": "too_costly", "status": 400},
            )

    def selection(self, selection_set: SelectionSetNode | None) -> tuple[int, Counter[str]]:
        """Fields under `selection_set` and the response names at its own level."""
        total, names = 0, Counter[str]()
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                names[(node.alias or node.name).value] += 1
                total += 1 + self.selection(node.selection_set)[0]
            elif isinstance(node, InlineFragmentNode):
                inner, inner_names = self.selection(node.selection_set)
                total += inner
                names.update(inner_names)
            elif isinstance(node, FragmentSpreadNode):
                inner, inner_names = self.fragment(node.name.value)
                total += inner
                names.update(inner_names)
        repeated = [name for name, n in names.items() if n > MAX_REPEATS]
        if repeated:
            raise GraphQLError(
                f"The field {repeated[0]!r} is selected {names[repeated[0]]} times in one "
                f"place; at most {MAX_REPEATS} are accepted.",
                extensions={"code": "too_costly", "status": 400},
            )
        return total, names

    def fragment(self, name: str) -> tuple[int, Counter[str]]:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return 0, Counter()  # unknown or cyclic: validation reports it
        self.visiting.add(name)
        self.memo[name] = self.selection(definition.selection_set)
        self.visiting.discard(name)
        return self.memo[name]

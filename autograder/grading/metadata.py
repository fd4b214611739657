"""``CheckCellMetadata``: nbgrader's check of every cell's nbgrader metadata, with the
metadata schema compiled once per process.

nbgrader checks each cell with ``jsonschema.validate``, which first checks the schema
itself against jsonschema's meta-schema: most of a fifth of a second per notebook, and
autograde checks every notebook twice. The checks, their order and their errors are
nbgrader's; only the check of the schema happens once. ``nbgrader_config.py`` puts this
preprocessor where nbgrader's stood in ``Autograde``'s lists.
"""
from __future__ import annotations

import traceback

from jsonschema import validators
from jsonschema.exceptions import best_match
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata

_COMPILED: dict[int, object] = {}    # schema version -> its jsonschema validator


class _CompiledSchema(BaseMetadataValidator):
    def validate_cell(self, cell) -> None:
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)     # nbgrader's errors for other versions
        if self.schema_version not in _COMPILED:
            kind = validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            _COMPILED[self.schema_version] = kind(self.schema)
        error = best_match(_COMPILED[self.schema_version].iter_errors(meta))
        if error is not None:
            raise error


class _Validator(MetadataValidator, _CompiledSchema):
    """nbgrader's current validator, whose per-cell schema check is ``_CompiledSchema``'s."""


class CheckCellMetadata(NbgraderCheckCellMetadata):
    def preprocess(self, nb, resources):
        try:
            _Validator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)
        return nb, resources

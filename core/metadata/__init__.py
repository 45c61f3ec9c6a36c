"""Generation settings read from other tools' images, in GenerationRequest terms."""

from core.metadata.imported import SOURCE_NAMES, ImportedMetadata
from core.metadata.reader import read_generation_metadata

__all__ = ["SOURCE_NAMES", "ImportedMetadata", "read_generation_metadata"]

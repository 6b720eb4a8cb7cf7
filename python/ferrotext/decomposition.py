"""Matrix decompositions: TruncatedSVD (placeholder)."""

__all__: list[str] = []

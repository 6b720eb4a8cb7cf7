"""Text vectorizers: drop-in replacements for sklearn.feature_extraction.text (placeholder)."""

__all__: list[str] = []

"""One module per provider; each declares MAPPINGS (found by registry.builtin_mappings)."""

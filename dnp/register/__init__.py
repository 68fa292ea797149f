"""The register: what the municipality's systems push (organisations, persons, groups, duties)."""

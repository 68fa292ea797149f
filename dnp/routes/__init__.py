"""HTML and JSON blueprints, one per area."""

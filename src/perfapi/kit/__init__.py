"""Small shared plumbing: pagination, routing, OpenAPI polishing."""

"""docsearch: ingest documents, store them with a vector, search them by similarity."""

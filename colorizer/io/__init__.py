"""Files in and out: decoding photos, atomic writes of files and folders, films, and the provenance
written into every result."""

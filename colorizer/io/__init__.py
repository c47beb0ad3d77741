"""Files in and out: decoding photos, atomic writes of files and folders, films, the provenance
written into every result, hints as they arrive, and the app's limit on a request's size."""

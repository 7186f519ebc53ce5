"""Definition files: models, YAML loading with positions, the catalog and date helpers."""

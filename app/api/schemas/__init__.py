"""Request and response models of the JSON API, one module per area (see app/api/spec.py)."""

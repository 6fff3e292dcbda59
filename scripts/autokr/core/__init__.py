"""Shapes and small shared facts: records, errors, languages, config, devices."""

"""The built-in suite files and lexicons; installed as the package data of ``fairaudit.templates``.

Nothing to import here: ``core/suites.py`` reads the YAML files (format: ``README.md`` in this folder).
"""

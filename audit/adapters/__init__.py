"""Example adapters that turn non-transformer systems into auditable models (``module:function``)."""

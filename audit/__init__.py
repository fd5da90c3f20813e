"""Audit text classifiers for bias: templates -> cases -> predictions -> metrics -> verdicts -> reports."""

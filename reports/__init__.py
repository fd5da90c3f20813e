"""Render results: self-contained HTML (jinja2, inline SVG), JSON, Markdown and JUnit; atomic file output."""

"""Rendering the learning report: HTML through Jinja and charts through matplotlib."""

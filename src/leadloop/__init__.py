"""Leadloop: close the loop between marketing and sales."""

__version__ = "0.1.0"

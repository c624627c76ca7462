"""Shared pytest configuration: options and markers for the whole suite."""

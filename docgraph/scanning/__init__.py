"""Virus scanning: the Scanner interface, and ClamAV's clamd behind it."""

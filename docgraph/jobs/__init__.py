"""Background work: the runner for jobs a request starts, and the periodic housekeeping."""

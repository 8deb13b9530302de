"""Core: no Qt, no torch. Paths and settings, errors, the job progress/cancel protocol, events."""

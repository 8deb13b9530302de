"""Core: no Qt, no torch. Paths and settings, errors, limits on untrusted input, the job
progress/cancel protocol, run statuses, and small process-level helpers (one window per library,
library load order before OpenGL, system library checks, text)."""

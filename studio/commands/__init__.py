"""CLI subcommands, one module per group; each has ``register(subparsers)``.

Shared helpers for handlers live in studio.commands.common."""

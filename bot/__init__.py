"""The long-running process: the aiohttp app, the `deputy` CLI, and one sub-package per channel."""

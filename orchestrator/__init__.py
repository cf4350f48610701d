"""Deputy's core: the domain model, commands, events, policies, ports and the coordinator.

Nothing here imports a framework (Slack, Telegram, aiohttp, Redis, RQ, litellm, Weaviate): adapters in
bot/, agents/, memory/ and connectors/ implement the ports in `ports.py` and are wired in config/.
"""

"""The Slack channel: slack-bolt's `AsyncApp` mounted in Deputy's aiohttp app, or over Socket Mode."""

"""What runs on RQ workers: job entry points (ids only), the agents, and the offline drafter."""

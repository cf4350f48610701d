"""Settings, default policies and the composition root that wires adapters into the core."""

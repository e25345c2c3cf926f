"""A deterministic SYNTHETIC demonstration network, so that every page has something to show."""

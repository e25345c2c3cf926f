"""Accessibility indicators: 2SFCA, E2SFCA, gravity, the DREES APL, and zoning."""

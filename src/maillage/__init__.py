"""maillage: access to care, site planning and telemedicine operations against medical deserts."""

__version__ = "0.1.0"

"""The telemedicine network's domain: identifiers, scheduling, télé-expertise, monitoring."""

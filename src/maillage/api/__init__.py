"""The network server: FHIR R4 REST facade, authentication, roles and audit."""

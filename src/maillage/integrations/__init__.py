"""National e-health services: MSSanté messages (CDA in IHE XDM) and MHD document sharing.

Pure builders over plain FHIR JSON and settings values: they read no database and know no
door, so that ``care`` calls them and the tests check what they produce byte for byte.
"""

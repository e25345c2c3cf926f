"""The dataset registry: real input files an analyst registers once, then names by id.

Files live under ``MAILLAGE_FILES_DIR/datasets``: each stored once by its SHA-256 in
``objects/``, described by one JSON manifest per dataset in ``manifests/`` (written
atomically). A plain folder, not the server's database, so that the analytics commands work on
a machine with no server, and the server finds the same datasets in the files directory it
shares with its workers.
"""

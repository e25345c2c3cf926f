"""The operator's command line for the network server: serving, database maintenance,
accounts, the outbox, the site registry.

Not an HTTP door: like :mod:`maillage.server`, it composes the parts (engine, migrations,
care operations) for one command run.
"""

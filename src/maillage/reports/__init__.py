"""Outputs people read: maps, tables, evaluation reports."""

"""Evaluation: metrics, leave-one-out protocols, shortcut audits, attacked copies, notebook helpers."""

"""Plumbing every layer may use: the version, progress reporting, quoting user text in
errors, and writing a set of output files whole.

Imports nothing from symbp outside this folder.
"""

"""Source connectors: fetch from news sites and social platforms and parse into Post rows.

This package never imports Prefect or ``rules``. See ``docs/connectors.md`` for the contract.
"""

"""Prefect flows, the Parquet store, reporting and the ``claimwatch`` command line."""

"""govlake jobs: PySpark code that cleans, validates and merges agency datasets into a Delta Lake."""

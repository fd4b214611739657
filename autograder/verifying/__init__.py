"""Verifying, in the trusted process: the hidden cases, the verifier the harness reports
to, scoring and naming mistakes, and the scans for tampering and leaked solutions."""

"""The BentoML scoring service (built in a later issue; imports features and models only)."""

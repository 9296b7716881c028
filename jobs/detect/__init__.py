"""Detection-as-code: catalog, views, evaluation, alert shaping, state and the detect job."""

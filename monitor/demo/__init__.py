"""`driftwarden demo`: the whole path on embedded services with a synthetic model."""

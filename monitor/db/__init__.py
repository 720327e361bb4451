"""Database access: typed models, engine/session factory and the SQL the service runs."""

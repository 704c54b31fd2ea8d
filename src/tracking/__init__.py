"""MLflow access shared by training and scoring: the store, logged scorers, the registry."""

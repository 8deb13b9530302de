"""Play and Export pages: use a trained model and ship it."""

"""Train, Runs and Evaluate pages and the live training view."""

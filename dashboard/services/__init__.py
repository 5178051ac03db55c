"""Long-lived services of the dashboard, built in the app's lifespan."""

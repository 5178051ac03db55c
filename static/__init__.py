"""Web assets of the dashboard (CSS, JS, vendored chart library), shipped as package data."""

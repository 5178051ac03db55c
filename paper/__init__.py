"""The paper exchange: a local venue that speaks the real API."""

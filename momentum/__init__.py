"""The momentum-volatility engine (seeds 000/002): `mraster momentum`, docs/momentum.md."""

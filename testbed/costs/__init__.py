"""What a product costs, what it buys, and what a district paid (docs/costs.md)."""

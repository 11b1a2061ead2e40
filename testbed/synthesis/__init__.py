"""Network synthesis: pooled product evidence, districts like mine, the dashboard, exports."""

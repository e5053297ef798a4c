"""What needs attention: where objectives are heading, and (soon) the insights feed."""

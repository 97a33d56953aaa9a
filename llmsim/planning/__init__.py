"""Capacity planning: sweeps over run configurations, capacity search, GPU prices, run comparison."""

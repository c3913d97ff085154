"""Pathfinder (placeholder while writing)."""

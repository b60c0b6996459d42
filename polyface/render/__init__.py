"""Renderers: Cairo (canonical, every file written) and a batched torch rasterizer for the search."""

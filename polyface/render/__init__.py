"""Renderers: Cairo (canonical, every file written), a batched torch rasterizer for the search,
and ``batch.make_renderer``, which picks between them for a device."""

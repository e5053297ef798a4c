"""The console (DESIGN 12): a reference UI served at ``/``, built on the public API only.

Everything it needs ships in this package (``static/``): plain ES modules, a style
sheet and a vendored uPlot; no build step, no CDN.
"""

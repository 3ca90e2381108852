"""radgui's GUI: the napari viewer, dock widgets, workers and shortcuts.

This is the only package that imports Qt or napari.
"""

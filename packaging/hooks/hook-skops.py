# skops: bundle payloads are loaded through skops.io's per-type loaders, imported by name;
# the loaders of old protocols live in skops/io/old/, a namespace package (no __init__.py)
# that collect_submodules does not walk, so they are named one by one.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

datas = copy_metadata("skops")
hiddenimports = collect_submodules("skops.io", filter=lambda name: "tests" not in name)
hiddenimports += ["skops.io.old", "skops.io.old._general_v0", "skops.io.old._numpy_v0", "skops.io.old._numpy_v1"]

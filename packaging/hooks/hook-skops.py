# skops: bundle payloads are loaded through skops.io's per-type loaders, imported by name.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

datas = copy_metadata("skops")
hiddenimports = collect_submodules("skops.io", filter=lambda name: "tests" not in name)

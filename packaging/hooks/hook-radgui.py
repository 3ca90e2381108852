# radgui: every submodule (the CLI finds its subcommands with pkgutil), the resources
# folder (presets, demo case, demo model, icons), the napari manifest and radgui's own
# metadata (its napari.manifest entry point makes the docks and reader show up).
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("radgui", filter=lambda name: ".tests" not in name)
datas = copy_metadata("radgui")

# napari: lazy-loaded submodules (lazy_loader reads the .pyi stubs at run time), themes,
# icons, the builtins manifest, and the metadata npe2 uses to discover plugins.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("napari", include_py_files=False, excludes=["**/_tests/**", "**/tests/**"])
datas += collect_data_files("napari_builtins", excludes=["**/_tests/**"])
datas += copy_metadata("napari", recursive=True)
hiddenimports = collect_submodules(
    "napari", filter=lambda name: "._tests" not in name and ".benchmarks" not in name and "._vendor.qt_console" not in name
)
hiddenimports += collect_submodules("napari_builtins", filter=lambda name: "_tests" not in name)
hiddenimports += ["napari_svg", "npe2", "app_model", "magicgui.backends._qtpy", "superqt", "psygnal"]

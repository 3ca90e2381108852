# vispy: GLSL shaders, fonts and colormap data are files; the Qt app backend is imported by name.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules

datas = collect_data_files("vispy", excludes=["**/tests/**"])
hiddenimports = ["vispy.app.backends._pyside6", "vispy.app.backends._qt", "vispy.glsl"]
hiddenimports += collect_submodules("vispy.visuals", filter=lambda name: ".tests" not in name)
hiddenimports += collect_submodules("vispy.scene", filter=lambda name: ".tests" not in name)

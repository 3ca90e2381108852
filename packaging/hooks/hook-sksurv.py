# scikit-survival: Cython extensions imported from package code and bundled data sets.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("sksurv") + copy_metadata("scikit-survival")
hiddenimports = collect_submodules("sksurv", filter=lambda name: ".tests" not in name)

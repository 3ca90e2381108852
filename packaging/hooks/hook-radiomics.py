# PyRadiomics (pyradiomics-cuda fork): the parameter schema (schemas/paramSchema.yaml and
# schemaFuncs.py, loaded by path), feature classes found with pkgutil, the C extensions,
# and the version from its metadata.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("radiomics", include_py_files=True, subdir="schemas")
datas += copy_metadata("pyradiomics-cuda")
hiddenimports = collect_submodules("radiomics", filter=lambda name: ".scripts" not in name)
hiddenimports += ["radiomics._cmatrices", "radiomics._cshape", "pykwalify", "pywt"]

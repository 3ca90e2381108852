# xgboost-cpu: libxgboost.so and the VERSION file are looked up next to the package.
from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, copy_metadata

datas = collect_data_files("xgboost") + copy_metadata("xgboost-cpu")
binaries = collect_dynamic_libs("xgboost")

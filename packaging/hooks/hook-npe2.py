# npe2: plugin manifests are YAML/JSON data next to the code; its metadata carries its version.
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("npe2") + copy_metadata("npe2")

# napari_resources: logos and fonts live in namespace sub-packages (resources/logos, resources/fonts)
# opened with importlib.resources.files(): collect them as files so the import finds the folders.
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("napari_resources", include_py_files=False) + copy_metadata("napari-resources")

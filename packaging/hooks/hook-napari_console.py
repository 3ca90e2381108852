# napari-console (the viewer's IPython console): its npe2 manifest napari.yaml is a data file.
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("napari_console", excludes=["**/_tests/**"]) + copy_metadata("napari-console")

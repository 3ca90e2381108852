"""Checks run INSIDE the built app (``make package-test``), beyond the demo screenshot:

    dist/radgui/radgui -c "import runpy; runpy.run_path('packaging/check_frozen.py', run_name='__main__')"

* the skops bundle probe starts its child process through the frozen program
  (``radgui -c``, see packaging/radgui_main.py) and accepts an XGBoost learner,
  giving the same probabilities as in this process;
* a corrupt payload is refused;
* PyRadiomics finds its parameter schema and extracts features from the demo case;
* the napari plugin manifests of radgui and napari-console are found.

Prints one line per check and exits 1 at the first failure.
"""

import sys


def main() -> int:
    import numpy as np
    import pandas as pd
    import skops.io as sio

    from radgui.errors import BundleError
    from radgui.model import bundle
    from radgui.model.learners import deployable, make_learner

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=60) > 0).astype(int)
    model = make_learner({"name": "xgboost", "tune": {"n_iter": 1, "folds": 2}}, seed=0).fit(X, y)
    payload = sio.dumps(deployable(model))
    loaded = bundle._load_skops(payload, None, list("abcd"))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    print("skops probe in a child process: ok")
    try:
        bundle._load_skops(payload[:-40] + b"\0" * 40, None, list("abcd"))
    except BundleError as exc:
        print(f"corrupt payload refused: ok ({str(exc)[:80]})")
    else:
        print("a corrupt payload was accepted", file=sys.stderr)
        return 1

    from radgui.cli.demo import load_demo
    from radgui.features import extract

    volume, mask = load_demo()
    table = extract(volume, {"tumour": mask}, "ct-original")
    print(f"PyRadiomics on the demo case: ok ({table.shape[1]} columns)")

    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    names = set(pm._manifests)
    missing = {"radgui", "napari-console"} - names
    if missing:
        print(f"napari plugins not found: {sorted(missing)} (found {sorted(names)})", file=sys.stderr)
        return 1
    print(f"napari plugins: ok ({', '.join(sorted(names))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

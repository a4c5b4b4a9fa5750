"""Helper library of the autoencoders course.

Modules, in lecture order of use:

* :mod:`course.runtime` -- device, seeds, budget, the banner (``setup``);
* :mod:`course.data`    -- Fashion-MNIST, MNIST and digits loaders;
* :mod:`course.pca`     -- PCA as a linear encoder;
* :mod:`course.models`  -- the lecture's Keras autoencoders;
* :mod:`course.metrics` -- reconstruction error, PSNR, compression factor;
* :mod:`course.plots`   -- originals over reconstructions, grids, curves;
* :mod:`course.checks`  -- self-checks shared by the labs' visible and hidden tests.
"""

import os

# Quiet TensorFlow's C++ start-up chatter; must happen before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .runtime import setup  # noqa: E402

__all__ = ["setup"]
__version__ = "0.1.0"

"""The teaching library of the autoencoders course: what every notebook imports.

Modules, in lecture order of use:

* :mod:`course.runtime`     -- device, seeds, budget, the banner (``setup``);
* :mod:`course.data`        -- Fashion-MNIST, MNIST and digits loaders;
* :mod:`course.geometry`    -- the curse of dimensionality in numbers;
* :mod:`course.pca`         -- PCA as a linear encoder;
* :mod:`course.framework`   -- the autoencoder framework measured: subspace angles, tied weights,
  gradients per part, capacity, Keras' activity-penalty convention;
* :mod:`course.models`      -- the lecture's Keras autoencoders;
* :mod:`course.training`    -- compile options that train faster with the same results;
* :mod:`course.metrics`     -- reconstruction error, PSNR, compression factor;
* :mod:`course.plots`       -- originals over reconstructions, grids, curves;
* :mod:`course.widgets`     -- sliders that redraw a figure;
* :mod:`course.latent`      -- the 2-D latent space and its explorer;
* :mod:`course.corruptions` -- noise, watermarks, masks, grey images;
* :mod:`course.denoising`   -- denoising and colorization figures;
* :mod:`course.anomaly`     -- thresholds, precision, recall, ROC;
* :mod:`course.detection`   -- anomaly-detection figures and threshold slider;
* :mod:`course.compression` -- JPEG/PNG against autoencoder codes;
* :mod:`course.results`     -- the course's results table;
* :mod:`course.checks`      -- the labs' self-checks, one module per lab (graders use them too).

Grading code is not part of this library: it lives in the instructor's repository.
"""

import os

# Quiet TensorFlow's C++ start-up chatter; must happen before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .runtime import setup  # noqa: E402

__all__ = ["setup"]
__version__ = "0.1.0"

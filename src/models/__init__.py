"""Models with no training machinery: numpy, scipy, scikit-learn and LightGBM only."""

from customer_ml.models.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel, btyd_arrays

__all__ = ["BetaGeoModel", "GammaGammaModel", "ParetoNBDModel", "btyd_arrays"]

"""Shipped calibration files, one JSON per face model (see explain_engine.calibration)."""

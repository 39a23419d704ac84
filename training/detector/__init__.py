"""The demo's tiny person detector: trained on synthetic scenes, exported to the detector contract."""

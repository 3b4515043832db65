"""Pure PyTorch modules (no scikit-learn): encoders, denoisers, schedules, flows."""

"""diffusers pipelines per mode, built once per model and sharing its components."""

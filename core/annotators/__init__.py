"""ControlNet's annotator networks (HED, line art, NormalBae, Depth Anything), written to load the published
weights files exactly as the A1111 ControlNet extension runs them, without its opencv and torch.hub code."""

"""What a hosted app needs around the views: where long jobs compute (ZeroGPU, a GPU, the CPU)."""

"""The Stratus worker: runs one execution or training job; holds the compute core."""
